/**
 * The bench's own garbage-collection pauses while it measures: the load generator shares the two
 * cores with the bank, and while its thread is paused it reads no settlement, so a transfer in
 * flight across one of its pauses may be slow by the bench's doing, not the bank's. Node reports
 * each collection as a `gc` performance entry, on the performance.now() timeline.
 */
import { constants, type PerformanceEntry, PerformanceObserver } from 'node:perf_hooks';

/** One pause: when it began and ended, on the performance.now() timeline (ms). */
export interface Pause {
  startMs: number;
  endMs: number;
  /** A full collection (mark-compact) of the whole heap, not of the young generation alone. */
  full?: boolean;
}

/** A `gc` entry: Node says in `detail.kind` which collection it was. */
type GcEntry = PerformanceEntry & { detail?: { kind?: number } };

/** Pauses shorter than this are left out: below the stages' own resolution (a millisecond). */
const SHORTEST_MS = 1;

/** Collects the process's GC pauses of SHORTEST_MS or more until `stop()`, which returns them in order. */
export function watchOwnPauses(): { stop(): Pause[] } {
  const pauses: Pause[] = [];
  const keep = (entries: PerformanceEntry[]) => {
    for (const entry of entries as GcEntry[]) {
      if (entry.duration < SHORTEST_MS) continue;
      const full = entry.detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR;
      pauses.push({ startMs: entry.startTime, endMs: entry.startTime + entry.duration, full });
    }
  };
  const observer = new PerformanceObserver((list) => keep(list.getEntries()));
  observer.observe({ entryTypes: ['gc'] });
  return {
    stop() {
      // Node hands GC entries over on a later turn of the event loop: those it has are taken too.
      keep(observer.takeRecords());
      observer.disconnect();
      return pauses.sort((a, b) => a.startMs - b.startMs);
    },
  };
}
