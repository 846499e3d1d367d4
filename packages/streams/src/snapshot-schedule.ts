/** When a projection stores its next snapshot: after enough entries, or after long enough with any. */

export interface SnapshotSchedule {
  /** `entries` more were consumed. */
  consumed(entries: number): void;
  /** Whether a snapshot is due now. */
  due(): boolean;
  /** A snapshot was taken: start counting again. */
  taken(): void;
}

export function snapshotSchedule({
  everyEntries,
  maxAgeMs,
}: {
  everyEntries: number;
  maxAgeMs: number;
}): SnapshotSchedule {
  let since = 0;
  let lastAt = performance.now();
  return {
    consumed(entries) {
      since += entries;
    },
    due() {
      return since > 0 && (since >= everyEntries || performance.now() - lastAt >= maxAgeMs);
    },
    taken() {
      since = 0;
      lastAt = performance.now();
    },
  };
}
