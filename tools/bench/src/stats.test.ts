import { testSuite } from '@microbank/testing';
import * as assert from 'uvu/assert';
import { LATENCY_BUCKETS_MS, latencyHistogram } from './stats.ts';

const stats = testSuite('bench stats');

stats('a latency histogram: each sample in the first bucket whose bound holds it, the rest above the last', () => {
  const histogram = latencyHistogram([0.5, 1, 1.01, 24.9, 25, 25.1, 1_000, 5_000]);
  assert.equal(histogram.boundsMs, LATENCY_BUCKETS_MS);
  assert.is(histogram.counts.length, LATENCY_BUCKETS_MS.length + 1);
  const at = (boundMs: number) => histogram.counts[LATENCY_BUCKETS_MS.indexOf(boundMs)];
  assert.equal([at(1), at(2), at(25), at(35), at(1_000), histogram.counts.at(-1)], [2, 1, 2, 1, 1, 1]);
  assert.is(
    histogram.counts.reduce((sum, n) => sum + n, 0),
    8,
  );
  assert.is(histogram.samples, 8);
  // Of the samples themselves (nearest rank), not of the buckets.
  assert.equal(histogram.percentiles, { p50Ms: 24.9, p90Ms: 5_000, p99Ms: 5_000, p999Ms: 5_000, maxMs: 5_000 });
});

stats('a latency histogram of no samples: every bucket empty, no percentiles', () => {
  const histogram = latencyHistogram([]);
  assert.is(histogram.samples, 0);
  assert.ok(histogram.counts.every((n) => n === 0));
  assert.is(histogram.percentiles, undefined);
});

stats.run();
