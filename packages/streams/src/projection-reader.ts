/**
 * A projection's reader: what is read and when. It reads each stream's catch-up target, replays
 * up to it in prefetched batches (from a snapshot when there is a good one), then tails every
 * stream with one XREAD BLOCK, resuming from each stream's last position after any disconnect.
 * Entries that do not decode are skipped, logged (a few) and counted (all); nothing on a stream
 * stops it. It adopts each stream's incarnation marker before reading the stream, reads the
 * markers again right behind every tail read and checks, every few seconds, after every reconnect
 * and before turning live, that each stream still holds what it applied (projection-continuity.ts).
 * When Redis lost data it reports the projection diverged and rebuilds the state from the streams
 * as they are now (`reset`), or, without `reset`, reads nothing more. An error no retry can fix
 * (the key is no longer a stream) is reported, and tried again now and then. What it knows of
 * events is what `decode` and `apply` do; what it tells the projection that serves the state
 * (projection.ts) goes through a ReaderListener.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import { errorMessage } from './errors.ts';
import type { DecodedEntry } from './event-catalog.ts';
import type { StreamEntry } from './event-store.ts';
import type { Log } from './log.ts';
import { Diverged, projectionContinuity } from './projection-continuity.ts';
import {
  type ProjectionReader,
  type ReaderContext,
  type ReaderListener,
  type ReadProgress,
  TAIL_WATCHDOG_MARGIN_MS,
} from './projection-reading.ts';
import { catchUp } from './projection-replay.ts';
import type { ProjectionSnapshots } from './projection-snapshots.ts';
import { projectionTail } from './projection-tail.ts';
import type { RedisClient } from './redis-connection.ts';
import { readyOrReconnect } from './redis-connection.ts';
import { isPermanentRedisError } from './redis-errors.ts';
import { retry } from './retry.ts';
import { skipLog } from './skip-log.ts';
import { STREAM_START, type StreamId } from './stream-id.ts';

export interface ProjectionReaderOptions<Event> {
  /** Names the projection in logs and metrics. */
  name: string;
  /** The streams it follows from the start; the first is its primary stream. `follow` adds more. */
  streams: readonly string[];
  /** Connection for ordinary commands (catch-up reads). Shared; the caller closes it. */
  redis: RedisClient;
  /** Connection dedicated to the blocking tail. The projection owns it and closes it on stop. */
  tailRedis: RedisClient;
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
  /**
   * Asked before each catch-up (the first, and a rebuild's after `reset`), once the commands
   * connection is ready, and retried as the reads are: what the state must know before it applies
   * its first entry. Nothing is read until it has answered.
   */
  beforeCatchUp?: (redis: RedisClient) => Promise<void>;
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
  /** Where the state is restored from; without it, every start replays everything. */
  snapshots?: Pick<ProjectionSnapshots, 'restore'>;
  /**
   * False for a projection that wants only what comes next (a live view): the streams it starts
   * with are taken up at their ends, nothing before is replayed.
   */
  replay?: boolean;
}

/**
 * Entries per read while catching up (and at most per stream per tail read), the next batch
 * prefetched while this one is applied; fewer when entries are large (batch-sizer.ts).
 * docs/performance.md has the measurements behind the number.
 */
export const PROJECTION_BATCH_SIZE = 2_000;

/** Retries of a failed read: quick at first, never slower than once a second. */
const READ_RETRY = { firstMs: 10, capMs: 1_000 };

export function startProjectionReader<Event>(
  options: ProjectionReaderOptions<Event>,
  listener: ReaderListener,
): ProjectionReader {
  const { name, redis, log, decode, apply, snapshots } = options;
  const [primary] = options.streams as [string, ...string[]];
  if (primary === undefined) throw new Error(`projection ${name} follows no stream`);
  const failedRetryMs = options.failedRetryMs ?? 5_000;
  const stopping = new AbortController();

  let caughtUp = false;
  /** Redis lost data once: the state is rebuilt from the streams alone, no snapshot. */
  let rebuilding = false;
  const positions = new Map<string, StreamId>(options.streams.map((stream) => [stream, STREAM_START]));
  const progress: ReadProgress = {
    catchUpTarget: STREAM_START,
    restoredFrom: undefined,
    applied: 0,
    skipped: 0,
  };
  const skips = skipLog(log, name);

  function consume(stream: string, entries: StreamEntry[]): void {
    const last = entries.at(-1);
    if (!last) return;
    for (const [idBytes, fields] of entries) {
      const decoded = decode(stream, fields);
      // Stream IDs are ASCII digits: latin1 is the cheapest exact decoding.
      const id = idBytes.toString('latin1');
      if (!decoded.ok) {
        progress.skipped++;
        skips.skipped(stream, id, decoded.kind, decoded.reason);
        continue;
      }
      try {
        apply(decoded.event, id, stream);
        progress.applied++;
      } catch (error) {
        progress.skipped++;
        skips.skipped(stream, id, 'not-applicable', errorMessage(error));
      }
    }
    skips.tick();
    const position = last[0].toString('latin1');
    positions.set(stream, position);
    listener.consumed(stream, position, entries.length);
  }

  function retryOn<T>(connection: RedisClient, what: string, step: () => Promise<T>): Promise<T> {
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

  const continuity = projectionContinuity({ redis, positions, retryOn });
  const reader: ReaderContext = {
    name,
    redis,
    tailRedis: options.tailRedis,
    log,
    primary,
    maxBatch: options.batchSize ?? PROJECTION_BATCH_SIZE,
    positions,
    continuity,
    listener,
    skips,
    signal: stopping.signal,
    progress,
    consume,
    retryOn,
  };
  const tail = projectionTail(reader, {
    blockMs: options.blockMs ?? 5_000,
    lingerMs: options.lingerMs ?? 0,
    continuityCheckMs: options.continuityCheckMs ?? 5_000,
  });

  /** After Redis lost data: the state emptied and every stream read again from its start, nothing kept from before. */
  function startOver(reset: () => void): void {
    reset();
    for (const stream of positions.keys()) positions.set(stream, STREAM_START);
    continuity.forget();
    progress.restoredFrom = undefined;
    progress.catchUpTarget = STREAM_START;
    caughtUp = false;
  }

  /** Where the catch-up starts: the streams' ends for a live view, else a snapshot on a first start. */
  function startFrom() {
    if (options.replay === false) return 'live-only';
    // (A rebuild reads the streams alone: a snapshot in a Redis that lost data may have been
    // written there by a process that had not noticed yet.)
    const first = progress.restoredFrom === undefined && progress.applied + progress.skipped === 0 && !rebuilding;
    return first && snapshots ? (endOf: (stream: string) => Promise<StreamId>) => snapshots.restore(endOf) : undefined;
  }

  const running = (async () => {
    while (!stopping.signal.aborted) {
      try {
        if (!caughtUp) {
          const before = options.beforeCatchUp;
          if (before) await retryOn(redis, 'the question before the catch-up', () => before(redis));
          await catchUp(reader, startFrom());
          caughtUp = true;
        }
        listener.live();
        await tail.run();
      } catch (error) {
        if (stopping.signal.aborted) return;
        if (error instanceof Diverged) {
          rebuilding = true;
          listener.diverged(error.message);
          const lost = 'a stream lost entries this projection applied: Redis lost data (empty or older volume?)';
          if (!options.reset) {
            log.error({ projection: name, reason: error.message }, `${lost}; not serving this state until restarted`);
            return;
          }
          log.error(
            { projection: name, reason: error.message },
            `${lost}; rebuilding the state from the streams as they are now`,
          );
          startOver(options.reset);
          continue;
        }
        const reason = errorMessage(error);
        listener.failed(reason);
        log.error({ projection: name, reason, retryInMs: failedRetryMs }, 'projection failed; not ready');
        await sleep(failedRetryMs, undefined, { signal: stopping.signal }).catch(() => {});
      }
    }
  })();

  return {
    positions,
    progress,
    follow(stream) {
      if (positions.has(stream)) return;
      positions.set(stream, STREAM_START);
      tail.followed();
    },
    hurry: tail.hurry,
    async stop() {
      if (!stopping.signal.aborted) {
        stopping.abort();
        tail.hurry();
        options.tailRedis.disconnect();
      }
      await running;
      skips.flush();
    },
  };
}
