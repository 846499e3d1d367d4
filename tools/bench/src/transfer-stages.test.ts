import { randomUUID } from 'node:crypto';
import { testSuite } from '@microbank/testing';
import * as assert from 'uvu/assert';
import { describeSlow, STAGES, type StreamEntry, type TransferTiming, transferStages } from './transfer-stages.ts';

const stages = testSuite('bench transfer stages');

/** An entry as the bank writes it: `type <type> v <v> data <json>`, at `ms` (Redis's clock). */
const entry = (ms: number, type: string, v: number, data: object): StreamEntry => [
  `${ms}-0`,
  ['type', type, 'v', String(v), 'data', JSON.stringify(data)],
];

/** The four entries of one completed transfer from `from` to `to`, at the given ms. */
function completed(
  transfer: string,
  from: string,
  to: string,
  at: { requested: number; debited: number; credited: number; settled: number },
) {
  return {
    transfers: [
      entry(at.requested, 'TransferRequested', 1, {
        transfer,
        from,
        to,
        amount: 1,
        key: randomUUID(),
        requestedAt: new Date(at.requested).toISOString(),
      }),
      entry(at.settled, 'TransferCompleted', 1, { transfer, debit: `${at.debited}-0`, credit: `${at.credited}-0` }),
    ],
    debit: entry(at.debited, 'Debited', 2, { transfer, to, amount: 1, seq: 2 }),
    credit: entry(at.credited, 'Credited', 2, { transfer, from, amount: 1, debit: `${at.debited}-0`, seq: 2 }),
  };
}

stages(
  'each stage from the entries` ms; the slow ones named by their largest stage; a missing entry counted, not fatal',
  () => {
    const [fast, slowDebit, slowSeen, noCredit] = [randomUUID(), randomUUID(), randomUUID(), randomUUID()];
    const a = completed(fast, 'ann', 'bob', { requested: 1_002, debited: 1_005, credited: 1_006, settled: 1_010 });
    const b = completed(slowDebit, 'bob', 'ann', { requested: 2_001, debited: 2_041, credited: 2_043, settled: 2_044 });
    const c = completed(slowSeen, 'ann', 'bob', { requested: 3_001, debited: 3_002, credited: 3_003, settled: 3_004 });
    const d = completed(noCredit, 'bob', 'ann', { requested: 4_001, debited: 4_002, credited: 4_003, settled: 4_004 });
    const timings: TransferTiming[] = [
      { transfer: fast, sentAtMs: 1_000, seenAtMs: 1_012, endToEndMs: 12.4 },
      { transfer: slowDebit, sentAtMs: 2_000, seenAtMs: 2_046, endToEndMs: 45.8 },
      { transfer: slowSeen, sentAtMs: 3_000, seenAtMs: 3_034, endToEndMs: 34.2 },
      { transfer: noCredit, sentAtMs: 4_000, seenAtMs: 4_050, endToEndMs: 50 },
      // Accepted but never seen settled: not measured end to end, so in no figure.
      { transfer: randomUUID(), sentAtMs: 5_000 },
    ];
    const figures = transferStages(
      timings,
      {
        transfers: [...a.transfers, ...b.transfers, ...c.transfers, ...d.transfers],
        // d's Credited is missing from ann's ledger; a Credited of d on the wrong ledger is not taken.
        ledgers: { ann: [b.credit, c.debit, a.debit], bob: [a.credit, b.debit, c.credit, d.debit, d.credit] },
      },
      20,
    );
    assert.equal([figures.measured, figures.incomplete], [3, 1]);
    assert.equal(
      figures.stages.map((s) => s.name),
      STAGES.map((s) => s.name),
    );
    // Each stage's values, by their histograms' own percentiles: max of 3 samples, p50 the middle.
    const max = Object.fromEntries(figures.stages.map((s) => [s.name, s.histogram.percentiles?.maxMs]));
    assert.equal(max, { accepted: 2, debited: 40, credited: 2, settled: 4, seen: 30 });
    assert.ok(figures.stages.every((s) => s.histogram.samples === 3));
    assert.equal(figures.slowest, [
      {
        endToEndMs: 45.8,
        stagesMs: { accepted: 1, debited: 40, credited: 2, settled: 1, seen: 2 },
        slowestStage: 'debited',
      },
      {
        endToEndMs: 34.2,
        stagesMs: { accepted: 1, debited: 1, credited: 1, settled: 1, seen: 30 },
        slowestStage: 'seen',
      },
    ]);
    assert.equal(figures.slow, {
      aboveMs: 20,
      transfers: 3,
      byStage: { accepted: 0, debited: 1, credited: 0, settled: 0, seen: 1 },
      incomplete: 1,
      // Sent at 2,000 and 3,000 ms, the run's first POST at 1,000 ms.
      sentWithinS: [1, 2],
    });
    // Stages add up to seen - sent on the wall clock; beside the measured latency: 46 vs 45.8, 12 vs 12.4, 34 vs 34.2.
    assert.ok(Math.abs(figures.maxSumGapMs - 0.4) < 1e-9, String(figures.maxSumGapMs));
    assert.is(
      describeSlow(figures, (value) => `${value} ms`),
      'of the 3 slowest 1% (above p99 20 ms): 1 slowest in accepted -> debited, 1 in settled -> seen, 1 with an entry missing; sent 1 to 2 s into the run',
    );
  },
);

stages("the bench's own GC pauses: a slow transfer in flight across one is counted, the pauses summed", () => {
  const [slowPaused, slowNot, fastPaused] = [randomUUID(), randomUUID(), randomUUID()];
  const a = completed(slowPaused, 'ann', 'bob', { requested: 1_001, debited: 1_002, credited: 1_003, settled: 1_004 });
  const b = completed(slowNot, 'bob', 'ann', { requested: 2_001, debited: 2_002, credited: 2_003, settled: 2_004 });
  const c = completed(fastPaused, 'ann', 'bob', { requested: 3_001, debited: 3_002, credited: 3_003, settled: 3_004 });
  const figures = transferStages(
    [
      { transfer: slowPaused, sentAtMs: 1_000, seenAtMs: 1_040, endToEndMs: 40 },
      { transfer: slowNot, sentAtMs: 2_000, seenAtMs: 2_040, endToEndMs: 40 },
      { transfer: fastPaused, sentAtMs: 3_000, seenAtMs: 3_005, endToEndMs: 5 },
    ],
    {
      transfers: [...a.transfers, ...b.transfers, ...c.transfers],
      ledgers: { ann: [a.debit, b.credit, c.debit], bob: [a.credit, b.debit, c.credit] },
    },
    20,
    [
      // During the first slow one; one that ends as the second is sent; one that begins as it is
      // seen; one during the fast one.
      { startMs: 1_010, endMs: 1_035, full: true },
      { startMs: 1_990, endMs: 2_000 },
      { startMs: 2_040, endMs: 2_041 },
      { startMs: 3_001, endMs: 3_003.5 },
    ],
  );
  assert.is(figures.slow.duringBenchPause, 1);
  assert.equal(figures.benchPauses, { count: 4, full: 1, totalMs: 38.5, longestMs: 25 });
  assert.ok(
    describeSlow(figures, (value) => `${value} ms`).endsWith(
      "; 1 in flight during a GC pause of the bench's own (4 of 1 ms or more in the run, 1 of them full collections, 38.5 ms in all, the longest 25 ms)",
    ),
  );
  // Figures from before full collections were counted say nothing of them.
  const older = { ...figures, benchPauses: { count: 4, totalMs: 38.5, longestMs: 25 } };
  assert.ok(
    describeSlow(older, (value) => `${value} ms`).endsWith(
      "; 1 in flight during a GC pause of the bench's own (4 of 1 ms or more in the run, 38.5 ms in all, the longest 25 ms)",
    ),
  );
  // Not watched: nothing said of it.
  const unwatched = transferStages(
    [{ transfer: slowPaused, sentAtMs: 1_000, seenAtMs: 1_040, endToEndMs: 40 }],
    { transfers: a.transfers, ledgers: { ann: [a.debit], bob: [a.credit] } },
    20,
  );
  assert.is(unwatched.slow.duringBenchPause, undefined);
  assert.is(unwatched.benchPauses, undefined);
});

stages('no entries at all: every measured transfer incomplete, empty histograms', () => {
  const figures = transferStages(
    [{ transfer: randomUUID(), sentAtMs: 1, seenAtMs: 5, endToEndMs: 4 }],
    { transfers: [], ledgers: {} },
    4,
  );
  assert.equal([figures.measured, figures.incomplete, figures.slow.transfers], [0, 1, 0]);
  assert.ok(figures.stages.every((s) => s.histogram.samples === 0));
  assert.is(
    describeSlow(figures, (value) => `${value} ms`),
    'none slower than p99 (4 ms)',
  );
});

stages.run();
