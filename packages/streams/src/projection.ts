/**
 * A projection, for any event type and any number of streams: the state its reader
 * (projection-reader.ts: replay, then tail) folds from the streams, served. It says whether the
 * state may be served (ready once caught up; not while failed or diverged, with the reason), lets
 * a read wait until a position has been consumed (read-your-writes), stores snapshots of the
 * state as they fall due, and counts what was applied, skipped, failed and lost.
 */
import { errorMessage } from './errors.ts';
import { streamEnd } from './event-store.ts';
import { positionWaiters } from './position-waiters.ts';
import { type ProjectionReaderOptions, startProjectionReader } from './projection-reader.ts';
import type { ReaderListener, ReadProgress } from './projection-reading.ts';
import type { Positions, ProjectionSnapshots } from './projection-snapshots.ts';
import { snapshotSchedule } from './snapshot-schedule.ts';
import { compareStreamIds, STREAM_START, type StreamId } from './stream-id.ts';

export { PROJECTION_BATCH_SIZE } from './projection-reader.ts';

export interface ProjectionOptions<Event> extends ProjectionReaderOptions<Event> {
  /** Where the state is snapshotted and restored from; without it, every start replays everything. */
  snapshots?: ProjectionSnapshots;
}

/**
 * starting: has not read the catch-up targets yet; catching-up: replaying; live: tailing;
 * failed: an error no retry fixes (tried again now and then); diverged: a stream lost entries
 * that were applied (Redis lost data), so the state is not served (it is rebuilt from the streams,
 * catching up again, when the projection can `reset` it); stopped: stop() was called.
 */
export type ProjectionStatus = 'starting' | 'catching-up' | 'live' | 'failed' | 'diverged' | 'stopped';

export interface Projection extends Readonly<ReadProgress> {
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

/** How long after turning ready the first snapshot is taken (not while the first reads come in). */
const SNAPSHOT_AFTER_READY_MS = 1_000;

export function startProjection<Event>(options: ProjectionOptions<Event>): Projection {
  const { name, redis, log, snapshots } = options;
  const primary = options.streams[0] as string;

  let status: ProjectionStatus = 'starting';
  let reason: string | undefined;
  let failures = 0;
  let divergences = 0;
  let markReady: () => void = () => {};
  const readyOnce = new Promise<void>((resolve) => {
    markReady = resolve;
  });
  const waiters = positionWaiters();
  const schedule = snapshots ? snapshotSchedule(snapshots) : undefined;
  let saving: Promise<void> | undefined;
  let stopping: Promise<void> | undefined;

  /**
   * Stores a snapshot when one is due. The state is captured at once (between two batches, so it
   * matches the positions); the write is not awaited by the reads, and a failed one is logged and
   * tried again at the next occasion.
   */
  function snapshotIfDue(): void {
    if (!snapshots || !schedule || saving || status !== 'live' || !schedule.due()) return;
    schedule.taken();
    saving = snapshots
      .save(new Map(reader.positions))
      .catch((error: unknown) => log.warn({ projection: name, err: errorMessage(error) }, 'snapshot not stored'))
      .finally(() => {
        saving = undefined;
      });
  }

  const listener: ReaderListener = {
    consumed(stream, position, entries) {
      schedule?.consumed(entries);
      waiters.reached(stream, position);
    },
    catchingUp() {
      status = 'catching-up';
    },
    caughtUp() {
      status = 'live';
      markReady();
      // Capturing a large state holds the event loop for tens of ms: not while readiness probes
      // and the reads that waited for this moment come in.
      setTimeout(snapshotIfDue, SNAPSHOT_AFTER_READY_MS).unref();
    },
    live() {
      status = 'live';
      reason = undefined;
    },
    tailed: snapshotIfDue,
    failed(why) {
      failures++;
      status = 'failed';
      reason = why;
    },
    diverged(why) {
      divergences++;
      status = 'diverged';
      reason = why;
    },
    get waiting() {
      return waiters.waiting;
    },
  };
  const reader = startProjectionReader(options, listener);

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
      return reader.positions.get(primary) ?? STREAM_START;
    },
    get positions() {
      return reader.positions;
    },
    get catchUpTarget() {
      return reader.progress.catchUpTarget;
    },
    get restoredFrom() {
      return reader.progress.restoredFrom;
    },
    get applied() {
      return reader.progress.applied;
    },
    get skipped() {
      return reader.progress.skipped;
    },
    get failures() {
      return failures;
    },
    get divergences() {
      return divergences;
    },
    whenReady: () => readyOnce,
    waitForPosition(id, timeoutMs, stream = primary) {
      if (compareStreamIds(id, reader.positions.get(stream) ?? STREAM_START) <= 0) return Promise.resolve(true);
      const waiting = waiters.wait(stream, id, timeoutMs);
      reader.hurry();
      return waiting;
    },
    follow: (stream) => reader.follow(stream),
    streamEnd: (stream = primary) => streamEnd(redis, stream),
    stop() {
      stopping ??= (async () => {
        status = 'stopped';
        waiters.cancelAll();
        await reader.stop();
        await saving;
      })();
      return stopping;
    },
  };
}
