/** Summaries of repeated measurements: median and percentiles (nearest rank). */

export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/** The nearest-rank percentile: the smallest value with at least p% of the values at or below it. */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new Error('no values to summarise');
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] as number;
}

/** Rounds for display and JSON: figures are noisy well before the third decimal. */
export function round(value: number, digits = 1): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/**
 * Upper bounds of the latency buckets, in ms, spaced roughly by a constant ratio so that a 1 ms
 * bank and a 500 ms one both show their shape; one more bucket holds whatever is above the last.
 */
export const LATENCY_BUCKETS_MS = [1, 2, 3, 5, 7, 10, 15, 20, 25, 35, 50, 75, 100, 150, 250, 500, 1000];

/**
 * A latency distribution small enough for the JSON: a count per bucket (`counts[i]` holds the
 * samples above `boundsMs[i - 1]` and at most `boundsMs[i]`; the last count, those above the
 * last bound) and the percentiles of the samples themselves, not of the buckets.
 */
export interface LatencyHistogram {
  boundsMs: number[];
  counts: number[];
  samples: number;
  /** Absent when there were no samples. */
  percentiles?: { p50Ms: number; p90Ms: number; p99Ms: number; p999Ms: number; maxMs: number };
}

export function latencyHistogram(valuesMs: readonly number[], boundsMs = LATENCY_BUCKETS_MS): LatencyHistogram {
  const counts = new Array<number>(boundsMs.length + 1).fill(0);
  for (const value of valuesMs) {
    const bucket = boundsMs.findIndex((bound) => value <= bound);
    const at = bucket === -1 ? boundsMs.length : bucket;
    counts[at] = (counts[at] ?? 0) + 1;
  }
  const histogram: LatencyHistogram = { boundsMs: [...boundsMs], counts, samples: valuesMs.length };
  if (valuesMs.length === 0) return histogram;
  const at = (p: number) => percentile(valuesMs, p);
  histogram.percentiles = {
    p50Ms: at(50),
    p90Ms: at(90),
    p99Ms: at(99),
    p999Ms: at(99.9),
    maxMs: valuesMs.reduce((max, value) => Math.max(max, value), 0),
  };
  return histogram;
}
