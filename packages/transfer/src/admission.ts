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
import { errorMessage, type Log, redisMemory } from '@microbank/streams';

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
 * staleAfterMs (four intervals, and never under STALE_AFTER_MS: an event loop held up for a moment
 * must not turn every request away) counts as none, so a Redis that filled up while its memory
 * could not be read (one primary of a cluster away, INFO refused by an ACL) is not taken to have
 * room. A reading that starts failing, and one that works again, are logged once each.
 */
export function startAdmission(
  redis: RedisClient,
  highWater: number,
  { everyMs = 250, log }: { everyMs?: number; log?: Log } = {},
): Admission {
  const staleAfterMs = Math.max(STALE_AFTER_READS * everyMs, STALE_AFTER_MS);
  let reading: { used: number; max: number } | undefined;
  let readAt = Number.NEGATIVE_INFINITY;
  let stopped = false;
  let looking = false;
  let failing = false;
  const look = async () => {
    // One at a time: an older answer must not overwrite a newer one.
    if (looking) return;
    looking = true;
    try {
      // On a cluster, the fullest primary's (redisMemory).
      reading = await redisMemory(redis);
      readAt = performance.now();
      if (failing) log?.info({}, 'admission: Redis memory read again');
      failing = false;
    } catch (error) {
      // Not read: the reading ages, and once stale new transfers are refused ('unread').
      // (Refused while the connection is not ready: a start, a reconnect; that is no news.)
      if (!failing && redis.status === 'ready') {
        failing = true;
        log?.warn(
          { err: errorMessage(error) },
          'admission: Redis memory not read; new transfers refused once the last reading is stale',
        );
      }
    } finally {
      looking = false;
    }
  };
  const timer = setInterval(() => void look(), everyMs);
  timer.unref();
  const lookWhenReady = () => void look();
  redis.on('ready', lookWhenReady);
  void look();
  const refusal = (): Admission['refusal'] => {
    if (stopped || !reading || performance.now() - readAt > staleAfterMs) return 'unread';
    return reading.max > 0 && reading.used >= highWater * reading.max ? 'full' : undefined;
  };
  return {
    get admitting() {
      return refusal() === undefined;
    },
    get refusal() {
      return refusal();
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

/** A reading older than this many intervals counts as none... */
const STALE_AFTER_READS = 4;
/** ...and never one younger than this. */
const STALE_AFTER_MS = 2_000;
