/**
 * The projection runner, for any event type and any number of streams: read each stream's
 * catch-up target, replay up to it in prefetched batches (from a snapshot when there is a good
 * one), turn ready, then tail every stream with one XREAD BLOCK, resuming from each stream's last
 * position after any disconnect. Entries that do not decode are skipped, logged and counted;
 * nothing on a stream stops it. What it knows of events is what `decode` and `apply` do.
 */
import type { Redis } from 'ioredis';
import { withDeadline } from './deadline.ts';
import { errorMessage } from './errors.ts';
import type { DecodedEntry } from './event-catalog.ts';
import { readAfter, readBatches, type StreamEntry, streamEnd } from './event-store.ts';
import type { Log } from './log.ts';
import { positionWaiters } from './position-waiters.ts';
import type { Positions, ProjectionSnapshots } from './projection-snapshots.ts';
import { readyOrReconnect } from './redis-connection.ts';
import { retry } from './retry.ts';
import { snapshotSchedule } from './snapshot-schedule.ts';
import { compareStreamIds, STREAM_START, type StreamId } from './stream-id.ts';

export interface ProjectionOptions<Event> {
  /** Names the projection in logs and metrics. */
  name: string;
  /** The streams it follows from the start; the first is its primary stream. `follow` adds more. */
  streams: readonly string[];
  /** Connection for ordinary commands (catch-up reads). Shared; the caller closes it. */
  redis: Redis;
  /** Connection dedicated to the blocking tail. The projection owns it and closes it on stop. */
  tailRedis: Redis;
  log: Log;
  /** Reads one entry of `stream`; never throws. */
  decode: (stream: string, fields: readonly Buffer[]) => DecodedEntry<Event>;
  /** Folds one event into the projection's state. A throw skips the entry. */
  apply: (event: Event, id: StreamId, stream: string) => void;
  batchSize?: number;
  blockMs?: number;
  /** Where the state is snapshotted and restored from; without it, every start replays everything. */
  snapshots?: ProjectionSnapshots;
}

/**
 * starting: has not read the catch-up targets yet; catching-up: replaying; live: tailing;
 * diverged: a stream is behind what was applied (Redis lost data), so the state is not served;
 * stopped: stop() was called.
 */
export type ProjectionStatus = 'starting' | 'catching-up' | 'live' | 'diverged' | 'stopped';

export interface Projection {
  readonly name: string;
  readonly status: ProjectionStatus;
  /** Ready to serve: caught up, and not diverged. */
  readonly ready: boolean;
  /** The ID of the last entry of the primary stream consumed (applied or skipped). */
  readonly position: StreamId;
  /** Every followed stream's position. */
  readonly positions: Positions;
  /** The primary stream's end when catching up began. */
  readonly catchUpTarget: StreamId;
  /** The positions of the snapshot the state was restored from; undefined after a full replay. */
  readonly restoredFrom: Positions | undefined;
  readonly applied: number;
  readonly skipped: number;
  /** Resolves once the projection is first ready. */
  whenReady(): Promise<void>;
  /** True once the projection has consumed `id` of `stream` (the primary by default); false if not within `timeoutMs`. */
  waitForPosition(id: StreamId, timeoutMs: number, stream?: string): Promise<boolean>;
  /** Follows one more stream, from its start; a stream already followed is left as it is. */
  follow(stream: string): void;
  /** A stream's end as Redis knows it now (last generated ID); the primary stream's by default. */
  streamEnd(stream?: string): Promise<StreamId>;
  stop(): Promise<void>;
}

/**
 * Entries per read while catching up (and at most per stream per tail read), the next batch
 * prefetched while this one is applied. The README's Performance section has the measurements
 * behind the number.
 */
export const PROJECTION_BATCH_SIZE = 2_000;

/** How long after turning ready the first snapshot is taken (not while the first reads come in). */
const SNAPSHOT_AFTER_READY_MS = 1_000;

/** How long past BLOCK a tail read may stay unanswered before the connection is presumed dead. */
const TAIL_WATCHDOG_MARGIN_MS = 3000;

/** Retries of a failed read: quick at first, never slower than once a second. */
const READ_RETRY = { firstMs: 10, capMs: 1_000 };

export function startProjection<Event>(options: ProjectionOptions<Event>): Projection {
  const { name, redis, tailRedis, log, decode, apply, snapshots } = options;
  const [primary] = options.streams as [string, ...string[]];
  if (primary === undefined) throw new Error(`projection ${name} follows no stream`);
  const batchSize = options.batchSize ?? PROJECTION_BATCH_SIZE;
  const blockMs = options.blockMs ?? 5_000;
  const stopping = new AbortController();

  let status: ProjectionStatus = 'starting';
  const positions = new Map<string, StreamId>(options.streams.map((stream) => [stream, STREAM_START]));
  let catchUpTarget: StreamId = STREAM_START;
  let restoredFrom: Positions | undefined;
  let applied = 0;
  let skipped = 0;
  let markReady: () => void = () => {};
  const readyOnce = new Promise<void>((resolve) => {
    markReady = resolve;
  });
  const waiters = positionWaiters();
  const schedule = snapshots ? snapshotSchedule(snapshots) : undefined;
  let saving: Promise<void> | undefined;
  /** The tail connection's client ID while it blocks, so that `follow` can wake it (CLIENT UNBLOCK). */
  let tailClientId: number | undefined;
  let tailBlocked = false;
  tailRedis.on('close', () => {
    tailClientId = undefined;
  });

  function consume(stream: string, entries: StreamEntry[]): void {
    const last = entries.at(-1);
    if (!last) return;
    for (const [idBytes, fields] of entries) {
      const decoded = decode(stream, fields);
      // Stream IDs are ASCII digits: latin1 is the cheapest exact decoding.
      const id = idBytes.toString('latin1');
      if (!decoded.ok) {
        skipped++;
        log.warn({ projection: name, stream, id, reason: decoded.reason }, 'skipped stream entry');
        continue;
      }
      try {
        apply(decoded.event, id, stream);
        applied++;
      } catch (error) {
        skipped++;
        log.error({ projection: name, stream, id, err: errorMessage(error) }, 'entry could not be applied; skipped');
      }
    }
    const position = last[0].toString('latin1');
    positions.set(stream, position);
    schedule?.consumed(entries.length);
    waiters.reached(stream, position);
  }

  /**
   * Stores a snapshot when one is due. The state is captured at once (between two batches, so it
   * matches the positions); the write is not awaited by the reads, and a failed one is logged and
   * tried again at the next occasion.
   */
  function snapshotIfDue(): void {
    if (!snapshots || !schedule || saving || status !== 'live' || !schedule.due()) return;
    schedule.taken();
    saving = snapshots
      .save(new Map(positions))
      .catch((error: unknown) => log.warn({ projection: name, err: errorMessage(error) }, 'snapshot not stored'))
      .finally(() => {
        saving = undefined;
      });
  }

  /** Runs `step` until it completes, waiting for the connection before each attempt. */
  function retryOn<T>(connection: Redis, what: string, step: () => Promise<T>): Promise<T> {
    return retry(step, {
      ...READ_RETRY,
      signal: stopping.signal,
      beforeAttempt: () => readyOrReconnect(connection, TAIL_WATCHDOG_MARGIN_MS, stopping.signal),
      onFailure: (error, attempt) => {
        if (attempt === 0) log.warn({ projection: name, err: errorMessage(error) }, `${what} failed; retrying`);
      },
    });
  }

  async function catchUp(): Promise<void> {
    const started = performance.now();
    const targets = new Map<string, StreamId>();
    for (const stream of positions.keys()) {
      targets.set(stream, await retryOn(redis, 'reading the catch-up target', () => streamEnd(redis, stream)));
    }
    catchUpTarget = targets.get(primary) ?? STREAM_START;
    if (snapshots) {
      const endOf = async (stream: string) => targets.get(stream) ?? streamEnd(redis, stream);
      restoredFrom = await retryOn(redis, 'loading the snapshot', () => snapshots.restore(endOf));
      for (const [stream, position] of restoredFrom ?? []) positions.set(stream, position);
    }
    status = 'catching-up';
    log.info({ projection: name, streams: positions.size, catchUpTarget, from: positions.get(primary) }, 'catching up');
    // Streams followed while this runs are caught up too: a Map's iteration takes in new keys.
    for (const stream of positions.keys()) {
      const target =
        targets.get(stream) ?? (await retryOn(redis, 'reading the catch-up target', () => streamEnd(redis, stream)));
      await retryOn(redis, 'catch-up read', async () => {
        const from = positions.get(stream) ?? STREAM_START;
        for await (const batch of readBatches(redis, stream, from, target, batchSize)) consume(stream, batch);
      });
      // Entries deleted at the end of a stream leave nothing to read up to its target.
      if (compareStreamIds(positions.get(stream) ?? STREAM_START, target) < 0) {
        positions.set(stream, target);
        waiters.reached(stream, target);
      }
    }
    status = 'live';
    markReady();
    log.info(
      {
        projection: name,
        position: positions.get(primary),
        applied,
        skipped,
        ms: Math.round(performance.now() - started),
      },
      'caught up; ready',
    );
    // Capturing a large state holds the event loop for tens of ms: not while readiness probes
    // and the reads that waited for this moment come in.
    setTimeout(snapshotIfDue, SNAPSHOT_AFTER_READY_MS).unref();
  }

  /** After a reconnect: a stream that ends before our position lost entries we applied. */
  async function checkStreamsNotBehind(): Promise<void> {
    for (const [stream, position] of positions) {
      const end = await streamEnd(redis, stream);
      if (compareStreamIds(end, position) >= 0) continue;
      status = 'diverged';
      log.error(
        { projection: name, stream, position, streamEnd: end },
        'stream ends before entries this projection applied: Redis lost data (empty or older volume?); not serving this state until restarted',
      );
      return;
    }
  }

  async function tailOnce(): Promise<void> {
    if (tailClientId === undefined) {
      // Sent before the XREAD on the same connection, so it is answered while the read blocks.
      tailRedis.client('ID').then(
        (id) => {
          tailClientId = Number(id);
        },
        () => {},
      );
    }
    tailBlocked = true;
    try {
      const read = readAfter(tailRedis, [...positions], blockMs, batchSize);
      const reads = await withDeadline(read, blockMs + TAIL_WATCHDOG_MARGIN_MS, 'tail read', () =>
        tailRedis.disconnect(true),
      );
      for (const [stream, entries] of reads) consume(stream, entries);
    } finally {
      tailBlocked = false;
    }
    snapshotIfDue();
  }

  async function tail(): Promise<void> {
    let failures = 0;
    while (!stopping.signal.aborted && status === 'live') {
      try {
        await tailOnce();
        failures = 0;
      } catch (error) {
        if (stopping.signal.aborted) return;
        if (failures === 0) log.warn({ projection: name, err: errorMessage(error) }, 'tail read failed');
        failures++;
        await readyOrReconnect(tailRedis, TAIL_WATCHDOG_MARGIN_MS, stopping.signal);
        await retryOn(redis, 'stream check', checkStreamsNotBehind);
        if (status === 'live') log.info({ projection: name, position: positions.get(primary) }, 'tail resumed');
      }
    }
  }

  const running = (async () => {
    try {
      await catchUp();
      await tail();
    } catch (error) {
      if (!stopping.signal.aborted) {
        log.error({ projection: name, err: errorMessage(error) }, 'projection stopped unexpectedly');
      }
    }
  })();

  return {
    name,
    get status() {
      return status;
    },
    get ready() {
      return status === 'live';
    },
    get position() {
      return positions.get(primary) ?? STREAM_START;
    },
    get positions() {
      return positions;
    },
    get catchUpTarget() {
      return catchUpTarget;
    },
    get restoredFrom() {
      return restoredFrom;
    },
    get applied() {
      return applied;
    },
    get skipped() {
      return skipped;
    },
    whenReady: () => readyOnce,
    waitForPosition(id, timeoutMs, stream = primary) {
      if (compareStreamIds(id, positions.get(stream) ?? STREAM_START) <= 0) return Promise.resolve(true);
      return waiters.wait(stream, id, timeoutMs);
    },
    follow(stream) {
      if (positions.has(stream)) return;
      positions.set(stream, STREAM_START);
      if (tailBlocked && tailClientId !== undefined) redis.client('UNBLOCK', tailClientId).catch(() => {});
    },
    streamEnd: (stream = primary) => streamEnd(redis, stream),
    async stop() {
      if (stopping.signal.aborted) return running;
      stopping.abort();
      status = 'stopped';
      waiters.cancelAll();
      tailRedis.disconnect();
      await running;
      await saving;
    },
  };
}
