/**
 * The projection runner, for any event type and any number of streams: read each stream's
 * catch-up target, replay up to it in prefetched batches (from a snapshot when there is a good
 * one), turn ready, then tail every stream with one XREAD BLOCK, resuming from each stream's last
 * position after any disconnect. Entries that do not decode are skipped, logged (a few) and
 * counted (all); nothing on a stream stops it. It adopts each stream's incarnation marker before
 * reading the stream, reads the markers again right behind every tail read and checks, every few
 * seconds, after every reconnect and before turning ready, that each stream still holds what it
 * applied (stream-continuity.ts): entries of a stream Redis lost and wrote anew are never applied
 * on top of the old ones, whatever was written first. When Redis lost data it stops serving
 * (diverged) and rebuilds the state from the streams as they are now (`reset`), or, without
 * `reset`, serves nothing until restarted. An error no retry can fix (the key is no longer a
 * stream) makes it not ready with the reason until the error goes away. What it knows of events
 * is what `decode` and `apply` do.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { batchSizer } from './batch-sizer.ts';
import { withDeadline } from './deadline.ts';
import { errorMessage } from './errors.ts';
import type { DecodedEntry } from './event-catalog.ts';
import {
  ReadTooLarge,
  readAfter,
  readBatches,
  readCapped,
  type StreamEntry,
  type StreamsRead,
  streamEnd,
  watchedRead,
} from './event-store.ts';
import type { Log } from './log.ts';
import { positionWaiters } from './position-waiters.ts';
import type { Positions, ProjectionSnapshots } from './projection-snapshots.ts';
import { readyOrReconnect } from './redis-connection.ts';
import { isPermanentRedisError } from './redis-errors.ts';
import { retry } from './retry.ts';
import { skipLog } from './skip-log.ts';
import { snapshotSchedule } from './snapshot-schedule.ts';
import { askIncarnations, checkContinuity, incarnationChanged } from './stream-continuity.ts';
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
  /**
   * Empties the state, so that it is rebuilt from the streams when Redis lost entries that were
   * applied. Without it, such a projection stays diverged (serves nothing) until restarted.
   */
  reset?: () => void;
  batchSize?: number;
  blockMs?: number;
  /**
   * After a tail read that brought entries, how long to wait before the next read, so that a busy
   * stream is read in batches (as a Kafka consumer's fetch.max.wait.ms): a projection following
   * thousands of entries a second reads a few times a second instead of once per entry. A quiet
   * stream is read at once (the wait follows only a read that found something), and the wait ends
   * early when a position is waited for (waitForPosition) or a stream followed: what is asked for
   * is never later for it. Default 0: every read right after the last.
   */
  lingerMs?: number;
  /** How often a live projection checks that its streams still hold what it applied. */
  continuityCheckMs?: number;
  /** How long a projection that failed (an error no retry fixes) waits before trying again. */
  failedRetryMs?: number;
  /** Where the state is snapshotted and restored from; without it, every start replays everything. */
  snapshots?: ProjectionSnapshots;
  /**
   * False for a projection that wants only what comes next (a live view): the streams it starts
   * with are taken up at their ends, nothing before is replayed.
   */
  replay?: boolean;
}

/**
 * starting: has not read the catch-up targets yet; catching-up: replaying; live: tailing;
 * failed: an error no retry fixes (tried again now and then); diverged: a stream lost entries
 * that were applied (Redis lost data), so the state is not served (it is rebuilt from the streams,
 * catching up again, when the projection can `reset` it); stopped: stop() was called.
 */
export type ProjectionStatus = 'starting' | 'catching-up' | 'live' | 'failed' | 'diverged' | 'stopped';

export interface Projection {
  readonly name: string;
  readonly status: ProjectionStatus;
  /** Ready to serve: caught up, live, and neither failed nor diverged. */
  readonly ready: boolean;
  /** Why it failed or diverged; undefined otherwise. */
  readonly reason: string | undefined;
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
  /** Errors no retry could fix, each time one made it fail. */
  readonly failures: number;
  /** Times a stream was found not to hold what was applied (Redis lost data). */
  readonly divergences: number;
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
 * prefetched while this one is applied; fewer when entries are large (batch-sizer.ts).
 * docs/performance.md has the measurements behind the number.
 */
export const PROJECTION_BATCH_SIZE = 2_000;

/** How long after turning ready the first snapshot is taken (not while the first reads come in). */
const SNAPSHOT_AFTER_READY_MS = 1_000;

/** How long past BLOCK a tail read may stay unanswered before the connection is presumed dead. */
const TAIL_WATCHDOG_MARGIN_MS = 3000;

/** Retries of a failed read: quick at first, never slower than once a second. */
const READ_RETRY = { firstMs: 10, capMs: 1_000 };

class Diverged extends Error {}

export function startProjection<Event>(options: ProjectionOptions<Event>): Projection {
  const { name, redis, tailRedis, log, decode, apply, snapshots } = options;
  const [primary] = options.streams as [string, ...string[]];
  if (primary === undefined) throw new Error(`projection ${name} follows no stream`);
  const maxBatch = options.batchSize ?? PROJECTION_BATCH_SIZE;
  const blockMs = options.blockMs ?? 5_000;
  const lingerMs = options.lingerMs ?? 0;
  const continuityCheckMs = options.continuityCheckMs ?? 5_000;
  const failedRetryMs = options.failedRetryMs ?? 5_000;
  const stopping = new AbortController();

  let status: ProjectionStatus = 'starting';
  let reason: string | undefined;
  let caughtUp = false;
  const positions = new Map<string, StreamId>(options.streams.map((stream) => [stream, STREAM_START]));
  /** Each stream's incarnation marker as this projection adopted it (stream-continuity.ts). */
  const incarnations = new Map<string, string>();
  let lastContinuityCheck = performance.now();
  let catchUpTarget: StreamId = STREAM_START;
  let restoredFrom: Positions | undefined;
  let applied = 0;
  let skipped = 0;
  let failures = 0;
  let divergences = 0;
  let markReady: () => void = () => {};
  const readyOnce = new Promise<void>((resolve) => {
    markReady = resolve;
  });
  const waiters = positionWaiters();
  const skips = skipLog(log, name);
  const schedule = snapshots ? snapshotSchedule(snapshots) : undefined;
  const tailSizer = batchSizer(maxBatch);
  let saving: Promise<void> | undefined;
  /** The tail connection's client ID while it blocks, so that `follow` can wake it (CLIENT UNBLOCK). */
  let tailClientId: Promise<number> | undefined;
  let tailBlocked = false;
  /** Ends the wait after a read (lingerMs) at once, while there is one. */
  let endLinger: (() => void) | undefined;
  /** A stream was followed since the last read was sent: the next read comes without a wait. */
  let followedSinceRead = false;
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
        skips.skipped(stream, id, decoded.kind, decoded.reason);
        continue;
      }
      try {
        apply(decoded.event, id, stream);
        applied++;
      } catch (error) {
        skipped++;
        skips.skipped(stream, id, 'not-applicable', errorMessage(error));
      }
    }
    skips.tick();
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

  /** Runs `step` until it completes, waiting for the connection before each attempt; a permanent error is thrown. */
  function retryOn<T>(connection: Redis, what: string, step: () => Promise<T>): Promise<T> {
    return retry(step, {
      ...READ_RETRY,
      signal: stopping.signal,
      beforeAttempt: () => readyOrReconnect(connection, TAIL_WATCHDOG_MARGIN_MS, stopping.signal),
      retryable: (error) => !isPermanentRedisError(error),
      onFailure: (error, attempt) => {
        if (attempt === 0) log.warn({ projection: name, err: errorMessage(error) }, `${what} failed; retrying`);
      },
    }).catch((error: unknown) => {
      if (isPermanentRedisError(error)) throw new Error(`${what}: ${errorMessage(error)}`);
      throw error;
    });
  }

  /** Checks `stream` still holds what was applied (adopting its incarnation); throws Diverged when it does not. */
  async function checkStream(stream: string): Promise<void> {
    const position = positions.get(stream) ?? STREAM_START;
    const check = await retryOn(redis, 'stream check', () =>
      checkContinuity(redis, stream, position, incarnations.get(stream)),
    );
    if (check.lost) throw new Diverged(check.lost);
    incarnations.set(stream, check.incarnation);
  }

  async function checkStreams(): Promise<void> {
    lastContinuityCheck = performance.now();
    for (const stream of positions.keys()) await checkStream(stream);
  }

  /** Adopts the incarnation of every stream followed since the last check, before anything of it is read. */
  async function adoptFollowedStreams(): Promise<void> {
    for (const stream of positions.keys()) if (!incarnations.has(stream)) await checkStream(stream);
  }

  /**
   * Throws Diverged when a stream read consumed entries of another incarnation than the one
   * adopted (`markers`: theirs, read just after the entries). A stream nothing was consumed of yet
   * loses its adoption instead, and its entries are left to be read again once it is adopted anew.
   */
  function confirmIncarnations(reads: StreamsRead, streams: readonly string[], markers: ReadonlyArray<string | null>) {
    const stale = new Set<string>();
    streams.forEach((stream, i) => {
      const changed = incarnationChanged(stream, incarnations.get(stream), markers[i] ?? null);
      if (changed === undefined) return;
      if ((positions.get(stream) ?? STREAM_START) !== STREAM_START) throw new Diverged(changed);
      incarnations.delete(stream);
      stale.add(stream);
    });
    return stale.size === 0 ? reads : reads.filter(([stream]) => !stale.has(stream));
  }

  /** After Redis lost data: the state emptied and every stream read again from its start, nothing kept from before. */
  function startOver(reset: () => void): void {
    reset();
    for (const stream of positions.keys()) positions.set(stream, STREAM_START);
    incarnations.clear();
    restoredFrom = undefined;
    catchUpTarget = STREAM_START;
    caughtUp = false;
  }

  async function catchUp(): Promise<void> {
    const started = performance.now();
    const targets = new Map<string, StreamId>();
    const targetOf = async (stream: string) => {
      let target = targets.get(stream);
      if (target === undefined) {
        target = await retryOn(redis, 'reading the catch-up target', () => streamEnd(redis, stream));
        targets.set(stream, target);
      }
      return target;
    };
    await checkStreams();
    for (const stream of positions.keys()) await targetOf(stream);
    catchUpTarget = targets.get(primary) ?? STREAM_START;
    if (options.replay === false) {
      for (const [stream, target] of targets) positions.set(stream, target);
    } else if (snapshots && restoredFrom === undefined && applied + skipped === 0 && divergences === 0) {
      // (A rebuild reads the streams alone: a snapshot in a Redis that lost data may have been
      // written there by a process that had not noticed yet.)
      restoredFrom = await retryOn(redis, 'loading the snapshot', () => snapshots.restore(targetOf));
      for (const [stream, position] of restoredFrom ?? []) positions.set(stream, position);
      // Its positions must be on the streams as they are: not a snapshot of data Redis lost.
      if (restoredFrom) await checkStreams();
    }
    status = 'catching-up';
    log.info({ projection: name, streams: positions.size, catchUpTarget, from: positions.get(primary) }, 'catching up');
    // Streams followed while this runs are caught up too: a Map's iteration takes in new keys.
    for (const stream of positions.keys()) {
      if (!incarnations.has(stream)) await checkStream(stream);
      const target = await targetOf(stream);
      await retryOn(redis, 'catch-up read', async () => {
        const from = positions.get(stream) ?? STREAM_START;
        const sizer = batchSizer(maxBatch);
        for await (const batch of readBatches(redis, stream, from, target, sizer)) consume(stream, batch);
      });
      // Entries deleted at the end of a stream leave nothing to read up to its target.
      if (compareStreamIds(positions.get(stream) ?? STREAM_START, target) < 0) {
        positions.set(stream, target);
        waiters.reached(stream, target);
      }
    }
    // What was read is served from now on: it must have come from the incarnations adopted.
    await checkStreams();
    skips.flush();
    caughtUp = true;
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

  /** Reads what came since the last read, and applies it; true when it brought entries. */
  async function tailOnce(): Promise<boolean> {
    if (tailClientId === undefined) {
      // Sent before the XREAD on the same connection, so it is answered while the read blocks.
      const asked = tailRedis.client('ID').then(Number);
      asked.catch(() => {
        if (tailClientId === asked) tailClientId = undefined;
      });
      tailClientId = asked;
    }
    tailBlocked = true;
    followedSinceRead = false;
    let brought = false;
    try {
      const reading = [...positions];
      const streams = reading.map(([stream]) => stream);
      const read = watchedRead(tailRedis, 2 * tailSizer.byteBudget, () =>
        readAfter(tailRedis, reading, blockMs, tailSizer.count),
      );
      // Queued behind the read on its connection, so Redis answers it right after the entries:
      // the incarnation they came from, even when Redis lost data and was written to before.
      const markersAsked = askIncarnations(tailRedis, streams);
      markersAsked.catch(() => {});
      let reads: StreamsRead;
      let markers: Array<string | null>;
      try {
        [reads, markers] = await withDeadline(
          (async () => [await read, await markersAsked] as const)(),
          blockMs + TAIL_WATCHDOG_MARGIN_MS,
          'tail read',
          () => tailRedis.disconnect(true),
        );
      } catch (error) {
        if (!(error instanceof ReadTooLarge)) throw error;
        // Read what came since with huge entries left in Redis, one bounded read per stream.
        const count = tailSizer.count;
        tailSizer.overflowed();
        reads = [];
        for (const [stream, position] of reading) {
          reads.push([stream, await readCapped(redis, stream, position, '+', count, tailSizer.byteBudget)]);
        }
        markers = await askIncarnations(redis, streams);
      }
      for (const [stream, entries] of confirmIncarnations(reads, streams, markers)) {
        tailSizer.observe(entries);
        consume(stream, entries);
        brought ||= entries.length > 0;
      }
    } finally {
      tailBlocked = false;
    }
    skips.tick();
    snapshotIfDue();
    return brought;
  }

  /** Waits lingerMs, or until endLinger is called. */
  function linger(): Promise<void> {
    return new Promise((resolve) => {
      const end = () => {
        clearTimeout(timer);
        endLinger = undefined;
        resolve();
      };
      const timer = setTimeout(end, lingerMs);
      endLinger = end;
    });
  }

  async function tail(): Promise<void> {
    let failing = 0;
    while (!stopping.signal.aborted) {
      try {
        if (performance.now() - lastContinuityCheck >= continuityCheckMs) await checkStreams();
        else await adoptFollowedStreams();
        const brought = await tailOnce();
        failing = 0;
        // No wait while a read waits for a position (it may have been asked for while this read was
        // on its way, or be beyond what it brought), nor for a stream just followed.
        if (brought && lingerMs > 0 && waiters.waiting === 0 && !followedSinceRead && !stopping.signal.aborted) {
          await linger();
        }
      } catch (error) {
        if (stopping.signal.aborted || error instanceof Diverged || isPermanentRedisError(error)) throw error;
        if (failing === 0) log.warn({ projection: name, err: errorMessage(error) }, 'tail read failed');
        failing++;
        await readyOrReconnect(tailRedis, TAIL_WATCHDOG_MARGIN_MS, stopping.signal);
        // A reconnect may be a Redis that restarted on another volume.
        await checkStreams();
        log.info({ projection: name, position: positions.get(primary) }, 'tail resumed');
      }
    }
  }

  const running = (async () => {
    while (!stopping.signal.aborted) {
      try {
        if (!caughtUp) await catchUp();
        status = 'live';
        reason = undefined;
        await tail();
      } catch (error) {
        if (stopping.signal.aborted) return;
        if (error instanceof Diverged) {
          divergences++;
          status = 'diverged';
          reason = error.message;
          const lost = 'a stream lost entries this projection applied: Redis lost data (empty or older volume?)';
          if (!options.reset) {
            log.error({ projection: name, reason }, `${lost}; not serving this state until restarted`);
            return;
          }
          log.error({ projection: name, reason }, `${lost}; rebuilding the state from the streams as they are now`);
          startOver(options.reset);
          continue;
        }
        failures++;
        status = 'failed';
        reason = errorMessage(error);
        log.error({ projection: name, reason, retryInMs: failedRetryMs }, 'projection failed; not ready');
        await sleep(failedRetryMs, undefined, { signal: stopping.signal }).catch(() => {});
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
    get reason() {
      return reason;
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
    get failures() {
      return failures;
    },
    get divergences() {
      return divergences;
    },
    whenReady: () => readyOnce,
    waitForPosition(id, timeoutMs, stream = primary) {
      if (compareStreamIds(id, positions.get(stream) ?? STREAM_START) <= 0) return Promise.resolve(true);
      const waiting = waiters.wait(stream, id, timeoutMs);
      endLinger?.();
      return waiting;
    },
    follow(stream) {
      if (positions.has(stream)) return;
      positions.set(stream, STREAM_START);
      followedSinceRead = true;
      endLinger?.();
      if (tailBlocked && tailClientId !== undefined) {
        tailClientId.then((id) => redis.client('UNBLOCK', id)).catch(() => {});
      }
    },
    streamEnd: (stream = primary) => streamEnd(redis, stream),
    async stop() {
      if (stopping.signal.aborted) return running;
      stopping.abort();
      status = 'stopped';
      waiters.cancelAll();
      endLinger?.();
      tailRedis.disconnect();
      await running;
      skips.flush();
      await saving;
    },
  };
}
