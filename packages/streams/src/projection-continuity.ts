/**
 * A projection reader's side of stream continuity (stream-continuity.ts): the incarnation it
 * adopted of each stream it reads, and the checks that throw Diverged when a stream no longer
 * holds what it applied, so that entries of a stream Redis lost and wrote anew are never applied
 * on top of the old ones.
 */

import type { StreamsRead } from './event-store.ts';
import type { RedisClient } from './redis-connection.ts';
import { checkContinuity, incarnationChanged } from './stream-continuity.ts';
import { STREAM_START, type StreamId } from './stream-id.ts';

/** A stream lost entries that were applied: Redis lost data. */
export class Diverged extends Error {}

export interface ProjectionContinuity {
  /** Checks every stream read (adopting their incarnations); throws Diverged when one does not hold what was applied. */
  checkStreams(): Promise<void>;
  /** Checks `stream` now when its incarnation is not adopted yet: before anything of it is read. */
  adopt(stream: string): Promise<void>;
  /** Adopts the incarnation of every stream followed since the last check. */
  adoptFollowed(): Promise<void>;
  /**
   * Throws Diverged when a stream read consumed entries of another incarnation than the one
   * adopted (`markers`: theirs, read just after the entries). A stream nothing was consumed of yet
   * loses its adoption instead, and its entries are left out, to be read again once it is adopted anew.
   */
  confirm(reads: StreamsRead, streams: readonly string[], markers: ReadonlyArray<string | null>): StreamsRead;
  /** Forgets every incarnation adopted: the streams are read again from their start. */
  forget(): void;
  /** How long ago every stream was last checked. */
  readonly sinceCheckMs: number;
}

export function projectionContinuity({
  redis,
  positions,
  retryOn,
}: {
  redis: RedisClient;
  /** The position of each stream read, as the reader keeps them. */
  positions: ReadonlyMap<string, StreamId>;
  /** Runs a check with the reader's retries. */
  retryOn: <T>(connection: RedisClient, what: string, step: () => Promise<T>) => Promise<T>;
}): ProjectionContinuity {
  /** Each stream's incarnation marker as the reader adopted it. */
  const incarnations = new Map<string, string>();
  let lastCheck = performance.now();

  async function checkStream(stream: string): Promise<void> {
    const position = positions.get(stream) ?? STREAM_START;
    const check = await retryOn(redis, 'stream check', () =>
      checkContinuity(redis, stream, position, incarnations.get(stream)),
    );
    if (check.lost) throw new Diverged(check.lost);
    incarnations.set(stream, check.incarnation);
  }

  /** Takes up a stream's incarnation, unless it is known already. */
  const adopt = async (stream: string) => {
    if (!incarnations.has(stream)) await checkStream(stream);
  };

  return {
    async checkStreams() {
      lastCheck = performance.now();
      for (const stream of positions.keys()) await checkStream(stream);
    },
    adopt,
    async adoptFollowed() {
      for (const stream of positions.keys()) await adopt(stream);
    },
    confirm(reads, streams, markers) {
      const stale = new Set<string>();
      streams.forEach((stream, i) => {
        const changed = incarnationChanged(stream, incarnations.get(stream), markers[i] ?? null);
        if (changed === undefined) return;
        if ((positions.get(stream) ?? STREAM_START) !== STREAM_START) throw new Diverged(changed);
        incarnations.delete(stream);
        stale.add(stream);
      });
      return stale.size === 0 ? reads : reads.filter(([stream]) => !stale.has(stream));
    },
    forget() {
      incarnations.clear();
    },
    get sinceCheckMs() {
      return performance.now() - lastCheck;
    },
  };
}
