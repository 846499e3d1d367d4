/**
 * What a projection's reader shares: the seam between the reader (projection-reader.ts) and the
 * projection that serves its state (projection.ts), and what the reader's catch-up
 * (projection-replay.ts) and tail (projection-tail.ts) read with.
 */

import type { StreamEntry } from './event-store.ts';
import type { Log } from './log.ts';
import type { ProjectionContinuity } from './projection-continuity.ts';
import type { Positions } from './projection-snapshots.ts';
import type { RedisClient } from './redis-connection.ts';
import type { SkipLog } from './skip-log.ts';
import type { StreamId } from './stream-id.ts';

/** How long past BLOCK a tail read may stay unanswered before the connection is presumed dead. */
export const TAIL_WATCHDOG_MARGIN_MS = 3000;

/** The seam: what the reader tells the projection that serves its state, and asks it. */
export interface ReaderListener {
  /** `stream` was consumed up to `position`, `entries` more entries (0: its end reached past deleted entries). */
  consumed(stream: string, position: StreamId, entries: number): void;
  /** The catch-up targets are read: replaying up to them. */
  catchingUp(): void;
  /** Caught up with the targets: what was read is served from now on. */
  caughtUp(): void;
  /** Tailing, after catching up or after a failure. */
  live(): void;
  /** A tail read was applied. */
  tailed(): void;
  failed(reason: string): void;
  diverged(reason: string): void;
  /** How many reads wait for a position now: while one does, the reader does not linger. */
  readonly waiting: number;
}

/** How far a reader has come: kept by the reader, shown by the projection it serves. */
export interface ReadProgress {
  /** The primary stream's end when catching up began. */
  catchUpTarget: StreamId;
  /** The positions of the snapshot the state was restored from; undefined after a full replay. */
  restoredFrom: Positions | undefined;
  applied: number;
  skipped: number;
}

/** The seam, the other way: what the served projection asks of its reader. */
export interface ProjectionReader {
  /** Every followed stream's position: the ID of its last entry consumed (applied or skipped). */
  readonly positions: Positions;
  /** Kept up to date by the reader. */
  readonly progress: Readonly<ReadProgress>;
  /** Reads one more stream, from its start; a stream already read is left as it is. */
  follow(stream: string): void;
  /** Ends a linger at once: a position is waited for. */
  hurry(): void;
  stop(): Promise<void>;
}

/** What the catch-up (projection-replay.ts) and the tail (projection-tail.ts) share of the reader. */
export interface ReaderContext {
  name: string;
  redis: RedisClient;
  tailRedis: RedisClient;
  log: Log;
  primary: string;
  maxBatch: number;
  positions: Map<string, StreamId>;
  continuity: ProjectionContinuity;
  listener: ReaderListener;
  skips: SkipLog;
  /** Aborted on stop. */
  signal: AbortSignal;
  progress: ReadProgress;
  /** Decodes and applies `entries` of `stream`, and moves its position past them. */
  consume(stream: string, entries: StreamEntry[]): void;
  /** Runs `step` until it completes, waiting for the connection before each attempt; a permanent error is thrown. */
  retryOn<T>(connection: RedisClient, what: string, step: () => Promise<T>): Promise<T>;
}
