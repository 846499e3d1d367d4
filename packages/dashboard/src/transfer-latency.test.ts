/**
 * The latency window with no I/O: given these request and settlement entry IDs, then these
 * nearest-rank percentiles; settlements leave the window as it slides; a flood of requests never
 * settled, or of settlements, holds no more than the bounds.
 */
import { testSuite } from '@microbank/testing';
import * as assert from 'uvu/assert';
import { latencyWindow, nearestRank } from './transfer-latency.ts';

const latency = testSuite('transfer latency');

const T0 = 1_800_000_000_000;
const id = (ms: number, seq = 0) => `${ms}-${seq}`;

/** Transfer `t<i>` requested at T0 + i and settled `ms[i]` later. */
function settledAfter(window: ReturnType<typeof latencyWindow>, ms: readonly number[]): void {
  for (const [i] of ms.entries()) window.requested(`t${i}`, id(T0 + i));
  for (const [i, each] of ms.entries()) window.settled(`t${i}`, id(T0 + i + each, 3));
}

latency('nearest rank: the smallest value with p% of them at or below it', () => {
  const hundred = Array.from({ length: 100 }, (_, i) => i + 1);
  assert.equal(
    [50, 90, 99, 100].map((p) => nearestRank(hundred, p)),
    [50, 90, 99, 100],
  );
  assert.equal(
    [50, 90, 99].map((p) => nearestRank([10, 20, 30, 40], p)),
    [20, 40, 40],
  );
  assert.equal(
    [0, 50, 99].map((p) => nearestRank([7], p)),
    [7, 7, 7],
  );
});

latency('the figures: request to settlement by the entries` milliseconds, over the window', () => {
  const window = latencyWindow();
  // 1..200 ms, settled in a shuffled order: the percentiles do not depend on the order seen.
  const ms = Array.from({ length: 200 }, (_, i) => ((i * 37) % 200) + 1);
  settledAfter(window, ms);
  assert.equal(window.figures(T0 + 1_000), {
    windowMs: 60_000,
    transfers: 200,
    p50: 100,
    p90: 180,
    p99: 198,
    max: 200,
  });
});

latency('nothing settled: no percentiles, not 0 ms', () => {
  const window = latencyWindow();
  window.requested('t0', id(T0));
  assert.equal(window.figures(T0 + 10), { windowMs: 60_000, transfers: 0 });
});

latency('a settlement read twice (the seed and the tail) counts once; an unknown one not at all', () => {
  const window = latencyWindow();
  window.requested('a', id(T0));
  window.settled('a', id(T0 + 12));
  window.requested('a', id(T0));
  window.settled('a', id(T0 + 12));
  window.settled('never-requested', id(T0 + 5));
  assert.equal(window.figures(T0 + 20), { windowMs: 60_000, transfers: 1, p50: 12, p90: 12, p99: 12, max: 12 });
});

latency('the window slides: settlements older than it leave the figures, and prune says so', () => {
  const window = latencyWindow({ windowMs: 1_000 });
  window.requested('early', id(T0));
  window.settled('early', id(T0 + 900));
  window.requested('late', id(T0 + 1_000));
  window.settled('late', id(T0 + 1_500));
  assert.equal(window.figures(T0 + 1_800).transfers, 2);
  assert.not.ok(window.prune(T0 + 1_900));
  assert.ok(window.prune(T0 + 1_901), 'early left the window');
  assert.equal(window.figures(T0 + 1_901), { windowMs: 1_000, transfers: 1, p50: 500, p90: 500, p99: 500, max: 500 });
  assert.equal(window.figures(T0 + 2_501), { windowMs: 1_000, transfers: 0 });
  assert.equal(window.held(), { pending: 0, settled: 0 });
});

latency('a flood of requests never settled holds no more than the bound, and the newest still count', () => {
  const window = latencyWindow({ maxPending: 1_000 });
  for (let i = 0; i < 200_000; i++) window.requested(`flood-${i}`, id(T0 + Math.floor(i / 100), i % 100));
  assert.equal(window.held(), { pending: 1_000, settled: 0 });
  // The newest request kept is still measured; the oldest was forgotten.
  window.settled('flood-199999', id(T0 + 2_000));
  window.settled('flood-0', id(T0 + 2_000));
  assert.equal(window.figures(T0 + 2_000), { windowMs: 60_000, transfers: 1, p50: 1, p90: 1, p99: 1, max: 1 });
});

latency('requests waiting longer than pendingForMs are forgotten', () => {
  const window = latencyWindow({ pendingForMs: 5_000 });
  window.requested('old', id(T0));
  window.requested('new', id(T0 + 4_000));
  window.prune(T0 + 6_000);
  assert.equal(window.held().pending, 1);
  window.settled('old', id(T0 + 6_000));
  assert.equal(window.figures(T0 + 6_000).transfers, 0);
});

latency('a flood of settlements holds the newest maxSettled', () => {
  const window = latencyWindow({ maxSettled: 500 });
  for (let i = 0; i < 20_000; i++) {
    window.requested(`s${i}`, id(T0 + i));
    window.settled(`s${i}`, id(T0 + i + (i < 19_500 ? 1_000 : 1)));
  }
  assert.equal(window.held(), { pending: 0, settled: 500 });
  assert.equal(window.figures(T0 + 20_000), { windowMs: 60_000, transfers: 500, p50: 1, p90: 1, p99: 1, max: 1 });
});

latency.run();
