/**
 * Admission control: a new transfer is refused (503, Retry-After) while Redis's used memory is at
 * or above a high-water mark of its maxmemory, so that the transfers already accepted always find
 * room for their credits and refunds. Without it a full Redis (noeviction) accepts a debit and then
 * refuses the credit: money stuck in flight until memory is freed. Memory is read with INFO every
 * `everyMs`, not per request; between two reads at most one interval's transfers get in, which the
 * room above the mark (1 - highWater of maxmemory) is sized to take. Without a recent reading,
 * nothing says there is room: new transfers are refused then too (503 unavailable).
 */

import type { RedisClient } from '@microbank/ledger';
import { redisMemory } from '@microbank/streams';

export interface Admission {
  /** True only while the last reading, taken lately, has Redis below the mark. */
  readonly admitting: boolean;
  /** Why not: Redis at the mark, or its memory not read lately (none yet, or the reads failing). */
  readonly refusal: 'full' | 'unread' | undefined;
  /** What the last reading said, for logs and metrics. */
  readonly reading: { used: number; max: number } | undefined;
  stop(): void;
}

/**
 * Reads Redis's memory every `everyMs`, and at once whenever the connection is (again) ready: a
 * command sent before that is refused (the offline queue is off). A reading older than
 * STALE_AFTER_READS intervals counts as none, so a Redis that filled up while its memory could not
 * be read (one primary of a cluster away, say) is not taken to have room.
 */
export function startAdmission(redis: RedisClient, highWater: number, everyMs = 250): Admission {
  let reading: { used: number; max: number } | undefined;
  let readAt = Number.NEGATIVE_INFINITY;
  let stopped = false;
  const look = async () => {
    try {
      // On a cluster, the fullest primary's (redisMemory).
      reading = await redisMemory(redis);
      readAt = performance.now();
    } catch {
      // Not read: the reading ages, and once stale new transfers are refused ('unread').
    }
  };
  const timer = setInterval(() => void look(), everyMs);
  timer.unref();
  const lookWhenReady = () => void look();
  redis.on('ready', lookWhenReady);
  void look();
  const refusal = (): Admission['refusal'] => {
    if (!reading || performance.now() - readAt > STALE_AFTER_READS * everyMs) return 'unread';
    return reading.max > 0 && reading.used >= highWater * reading.max ? 'full' : undefined;
  };
  return {
    get admitting() {
      return !stopped && refusal() === undefined;
    },
    get refusal() {
      return stopped ? 'unread' : refusal();
    },
    get reading() {
      return reading;
    },
    stop() {
      stopped = true;
      clearInterval(timer);
      redis.off('ready', lookWhenReady);
    },
  };
}

/** A reading older than this many intervals counts as none. */
const STALE_AFTER_READS = 4;
