/**
 * How many entries the next read of a stream asks for. XRANGE and XREAD bound a read by entries,
 * not bytes, so the count follows what the last read brought: at most as many entries as the
 * byte budget holds of the largest entry seen, doubling back towards the batch size while entries
 * are small. It starts small too, so a stream that begins with huge entries is read a few at a
 * time. Only a read that stayed within the budget is followed by a prefetch, so at most one
 * large read is in memory at a time.
 */
import { entryBytes } from './event-catalog.ts';
import type { StreamEntry } from './stream-entry.ts';

/** A read's bytes beyond which the next read is cut down (and not prefetched). */
export const READ_BYTE_BUDGET = 8 * 1024 * 1024;
/** The first read's count: the batch size is reached after a handful of reads that fit the budget. */
const FIRST_COUNT = 32;

export interface BatchSizer {
  /** The bytes a read should stay within. */
  readonly byteBudget: number;
  /** Entries to ask for in the next read. */
  readonly count: number;
  /** Whether the next read may be sent before the last one has been handled. */
  readonly prefetch: boolean;
  /** The last read brought these entries. */
  observe(entries: readonly StreamEntry[]): void;
  /** The last read was cut off for bringing far more than the budget: start again from one entry. */
  overflowed(): void;
}

export function batchSizer(maxCount: number, byteBudget = READ_BYTE_BUDGET): BatchSizer {
  let count = Math.min(FIRST_COUNT, maxCount);
  let prefetch = true;
  return {
    byteBudget,
    get count() {
      return count;
    },
    get prefetch() {
      return prefetch;
    },
    observe(entries) {
      let bytes = 0;
      let largest = 0;
      for (const [id, fields] of entries) {
        const size = id.length + entryBytes(fields);
        bytes += size;
        if (size > largest) largest = size;
      }
      const fits = Math.max(1, Math.floor(byteBudget / Math.max(largest, 1)));
      count = Math.max(1, Math.min(maxCount, count * 2, fits));
      prefetch = bytes <= byteBudget;
    },
    overflowed() {
      count = 1;
      prefetch = false;
    },
  };
}
