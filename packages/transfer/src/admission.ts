/**
 * Admission control: a new transfer is refused (503, Retry-After) while Redis's used memory is at
 * or above a high-water mark of its maxmemory, so that the transfers already accepted always find
 * room for their credits and refunds. Without it a full Redis (noeviction) accepts a debit and then
 * refuses the credit: money stuck in flight until memory is freed. Memory is read with INFO every
 * `everyMs`, not per request; between two reads at most one interval's transfers get in, which the
 * room above the mark (1 - highWater of maxmemory) is sized to take.
 */

import type { RedisClient } from '@microbank/ledger';
import { redisMemory } from '@microbank/streams';

export interface Admission {
  /** False while Redis is at or above the mark (or its memory could not be read lately). */
  readonly admitting: boolean;
  /** What the last reading said, for logs and metrics. */
  readonly reading: { used: number; max: number } | undefined;
  stop(): void;
}

export function startAdmission(redis: RedisClient, highWater: number, everyMs = 250): Admission {
  let reading: { used: number; max: number } | undefined;
  let admitting = true;
  let stopped = false;
  const look = async () => {
    try {
      // On a cluster, the fullest primary's (redisMemory).
      reading = await redisMemory(redis);
      admitting = !(reading.max > 0 && reading.used >= highWater * reading.max);
    } catch {
      // Redis away: the request itself will fail with 503; nothing to decide here.
    }
  };
  const timer = setInterval(() => void look(), everyMs);
  timer.unref();
  void look();
  return {
    get admitting() {
      return admitting && !stopped;
    },
    get reading() {
      return reading;
    },
    stop() {
      stopped = true;
      clearInterval(timer);
    },
  };
}
