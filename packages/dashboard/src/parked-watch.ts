/**
 * The parked transfers as the page shows them: the processors park a transfer whose saga failed at
 * every delivery (packages/transfer's parked.ts); an operator re-applies it with `pnpm parked`.
 * Parked transfers are exceptional, so the stream is read whole (its last PARKED_READ entries)
 * every PARKED_LOOK_MS, and the page is told only when it changed.
 */

import { parkedKey, parkedOf } from '@microbank/events';
import { errorMessage, type Log, type RedisClient, type StreamId } from '@microbank/streams';
import type { ParkedView } from './sections.ts';

const PARKED_LOOK_MS = 2_000;
const PARKED_READ = 1_000;
/** How many parked transfers the page lists (the newest). */
const PARKED_SHOWN = 10;

export interface ParkedWatch {
  view(): ParkedView;
  stop(): void;
}

export function watchParked(redis: RedisClient, log: Log, onChange: () => void): ParkedWatch {
  let shown: ParkedView = { waiting: 0, recent: [] };
  let last = '';
  let looking = false;
  const look = async () => {
    if (looking) return;
    looking = true;
    try {
      const entries = (await redis.xrevrange(parkedKey(), '+', '-', 'COUNT', PARKED_READ)) as Array<
        [StreamId, string[]]
      >;
      const newest = entries[0]?.[0] ?? '';
      if (newest === last) return;
      last = newest;
      const { transfers } = parkedOf(entries.reverse());
      shown = {
        waiting: transfers.filter((t) => !t.reapplied).length,
        recent: transfers
          .slice(-PARKED_SHOWN)
          .reverse()
          .map(({ parked, transfer, from, to, amount, reason, reapplied }) => ({
            parked,
            transfer,
            from,
            to,
            amount,
            reason,
            reapplied: reapplied !== undefined,
          })),
      };
      onChange();
    } catch (error) {
      log.debug({ err: errorMessage(error) }, 'could not read the parked transfers now');
    } finally {
      looking = false;
    }
  };
  const timer = setInterval(() => void look(), PARKED_LOOK_MS);
  timer.unref();
  void look();
  return {
    view: () => shown,
    stop: () => clearInterval(timer),
  };
}
