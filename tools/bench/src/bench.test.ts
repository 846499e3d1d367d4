import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnNode, testSuite } from '@microbank/testing';
import * as assert from 'uvu/assert';
import { parseBenchArgs } from './bench-options.ts';
import type { BenchFigures, TargetCheck } from './report.ts';
import { assertReportPage } from './report-page.ts';

const bench = testSuite('bench');

bench('--quick at the smallest size takes every group of figures, as JSON and drawn in a report', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'microbank-bench-test-'));
  const jsonFile = join(dir, 'out.json');
  const reportFile = join(dir, 'report.html');
  try {
    const bench = spawnNode('tools/bench/src/main.ts', {
      args: ['--quick', '--sizes', '10k', '--serve-seconds', '1', '--json', jsonFile, '--report', reportFile],
      inheritEnv: true,
    });
    const { code } = await bench.exited;
    const stdout = bench.lines.join('\n');
    assert.is(code, 0, stdout);

    const figures = JSON.parse(readFileSync(jsonFile, 'utf8')) as BenchFigures & { targets: TargetCheck[] };
    assert.equal(
      figures.replay.map((r) => [r.projection, r.history]),
      [
        ['registry', '10k'],
        ['ledger', '10k'],
      ],
    );
    for (const replay of figures.replay) {
      assert.ok(replay.cheapestReadMs > 0 && replay.projectionMs > 0, `${replay.projection} replay figures`);
      // The bare fold checks its own result (every account in its Map, every ledger entry taken).
      assert.ok((replay.bareFoldMs ?? 0) > 0, `${replay.projection} bare fold`);
    }
    const [restart] = figures.restart_to_ready;
    assert.is(restart?.runs, 3);
    assert.ok((restart?.medianMs ?? 0) > 0 && (restart?.bareProcessMs ?? 0) > 0, 'restart figures');
    assert.ok((figures.serve?.serviceRps ?? 0) > 0 && (figures.serve?.bareRps ?? 0) > 0, 'serve figures');
    assert.is(figures.visibility?.registrations, 1_000);
    const transfers = figures.transfers;
    assert.ok((transfers?.sustainedPerSecond ?? 0) > 0 && (transfers?.floorPerSecond ?? 0) > 0, 'transfer figures');
    assert.ok((transfers?.latencySamples ?? 0) > 0, 'latencies taken');
    assert.is(
      transfers?.latencyHistogram.counts.reduce((sum, n) => sum + n, 0),
      transfers?.latencySamples,
      'every latency in the histogram',
    );
    assert.is(transfers?.latencyHistogram.percentiles?.p99Ms, transfers?.p99Ms, 'the histogram`s p99 is the p99');
    // Each transfer of the 500/s run cut into its stages at its entries in Redis.
    const stages = transfers?.stages;
    assert.ok((stages?.measured ?? 0) > 0, 'transfers cut into stages');
    assert.is(
      (stages?.measured ?? 0) + (stages?.incomplete ?? 0),
      transfers?.latencySamples,
      'every measured transfer',
    );
    assert.ok(
      stages?.stages.every((stage) => stage.histogram.samples === stages.measured),
      'each stage`s histogram has every complete transfer',
    );
    // The stages run end to end from the POST sent to the settlement seen: they add up to the latency.
    assert.ok((stages?.maxSumGapMs ?? Number.POSITIVE_INFINITY) <= 3, `stages add up: ${stages?.maxSumGapMs} ms off`);
    assert.is(stages?.slow.aboveMs, transfers?.p99Ms, 'the slow ones are those above p99');
    assert.is(
      Object.values(stages?.slow.byStage ?? {}).reduce((sum, n) => sum + n, 0) + (stages?.slow.incomplete ?? 0),
      stages?.slow.transfers,
      'each slow transfer named by a stage, or missing an entry',
    );
    assert.ok(stdout.includes('transfer stages at 500/s'), 'the stage table printed');
    assert.ok(stdout.includes('cluster: transfer stages at'), 'the cluster`s stage table printed');
    // What stalled during that load: every service reported its event loop (13 of them, three kinds).
    const stalls = transfers?.stalls;
    assert.equal(
      stalls?.services.map(({ kind, services }) => `${kind} x ${services}`),
      ['account x 10', 'balance x 1', 'transfer x 2'],
    );
    assert.ok(
      stalls?.services.every((each) => Number.isFinite(each.loopDelayMaxMs) && each.gcMsPerSecond >= 0),
      'loop delays and GC read from every service',
    );
    // The same load with a transfer replica SIGKILLed every 2 s: kills happened, and every transfer
    // accepted was seen settled.
    const disrupted = transfers?.disrupted;
    assert.ok((disrupted?.kills ?? 0) >= 1, `replicas were killed: ${disrupted?.kills}`);
    assert.ok((disrupted?.samples ?? 0) > 0 && Number.isFinite(disrupted?.p99Ms), 'latency under kills measured');
    assert.is(transfers?.settledEachSecond.length, transfers?.sustainedSeconds, 'settled, a count per second');
    assert.ok(
      transfers?.settledEachSecond.every((n) => n > 0),
      'transfers settled in every second',
    );
    // The tiny cluster part of --quick: 2 primary kills with a node timeout of 1 s (about a minute here).
    const cluster = figures.cluster;
    assert.ok((cluster?.sustainedPerSecond ?? 0) > 0 && (cluster?.latencySamples ?? 0) > 0, 'cluster figures');
    assert.is(cluster?.kills.length, 2);
    assert.ok(Number.isFinite(cluster?.recoveryP99Ms), 'every kill was recovered from');
    assert.ok(
      // Seen only while it lasts (a restarted node clears it): where seen, it came first.
      cluster?.kills.every((kill) => !Number.isFinite(kill.flaggedMs) || kill.flaggedMs <= kill.failedOverMs),
      'each killed primary flagged failed by its peers before a replica served its slots, where seen',
    );
    assert.ok((cluster?.trickle.accepted ?? 0) > 0, 'transfers were accepted during the kills');
    // The cluster's latency run cut into the same stages: entry IDs from three primaries' clocks, one machine's.
    assert.ok((cluster?.stages?.measured ?? 0) > 0, 'cluster transfers cut into stages');
    assert.ok(
      (cluster?.stages?.maxSumGapMs ?? Number.POSITIVE_INFINITY) <= 3,
      `cluster stages add up: ${cluster?.stages?.maxSumGapMs} ms off`,
    );
    assert.ok(
      figures.targets.some((t) => t.target.startsWith('cluster failover')),
      'the failover target was checked',
    );
    const memory = figures.memory;
    assert.is(memory?.afterRetention.workingStateKept, 0, 'the working state expired');
    assert.ok((memory?.afterCompaction.usedMemoryBytes ?? 0) > 0, 'bytes per transfer after compaction');
    assert.ok(
      (memory?.afterCompaction.keysBytes ?? 0) < (memory?.afterRetention.keysBytes ?? 0),
      'compaction took something away',
    );
    assert.ok(
      figures.targets.some((t) => t.target.startsWith('bytes per settled transfer')),
      'the memory target was checked',
    );
    assert.ok(figures.targets.length > 0, 'targets were checked');
    for (const heading of [
      'replay:',
      'restart_to_ready:',
      'serve:',
      'visibility:',
      'transfers:',
      'cluster:',
      'cluster failover:',
      'memory:',
      'targets',
    ]) {
      assert.ok(stdout.includes(heading), `the table has ${heading}`);
    }
    const finished = bench.lines.findIndex((line) => line.startsWith('bench finished'));
    assert.ok(
      finished >= 0 && bench.lines.indexOf(`report written to ${reportFile}`) > finished,
      'the report`s path printed at the end',
    );
    await assertReportPage(reportFile, figures, figures.targets);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

bench('the command line: --quick is smaller, sizes are checked, unknown flags refused', () => {
  assert.equal(
    parseBenchArgs(['--quick']).histories.map((h) => h.name),
    ['10k', '100k', '1M'],
  );
  assert.equal(
    parseBenchArgs([]).histories.map((h) => h.name),
    ['10k', '100k', '1M', '10M'],
  );
  assert.is(parseBenchArgs(['--json', 'x.json']).jsonFile, 'x.json');
  assert.is(parseBenchArgs(['--report', 'r.html']).reportFile, 'r.html');
  assert.is(parseBenchArgs(['--no-report']).reportFile, undefined);
  assert.throws(() => parseBenchArgs(['--report', 'r.html', '--no-report']), /--report and --no-report: choose one/);
  assert.throws(() => parseBenchArgs(['--sizes', '5k']), /unknown size 5k/);
  assert.throws(() => parseBenchArgs(['--fast']), /Unknown option '--fast'/);
  assert.throws(() => parseBenchArgs(['--json']), /Option '--json <value>' argument missing/);
  assert.throws(() => parseBenchArgs(['--json', '--quick']), /--json' argument is ambiguous/);
  assert.throws(() => parseBenchArgs(['10k']), /Unexpected argument '10k'/);
  assert.throws(() => parseBenchArgs(['--fast']), /usage: pnpm bench/);
  assert.throws(() => parseBenchArgs(['--groups', 'memory,nope']), /unknown group nope; groups are replay,/);
  assert.equal(parseBenchArgs(['--groups', 'serve,memory']).groups, ['serve', 'memory']);
  assert.ok(parseBenchArgs([]).groups.includes('memory'));
  // --compare-with alone runs only the comparison; with --groups, those groups too.
  const compare = parseBenchArgs(['--quick', '--compare-with', '/tmp/before']);
  assert.equal([compare.compareWith, compare.groups, compare.comparePairs], ['/tmp/before', [], 3]);
  assert.equal(parseBenchArgs(['--compare-with', 'x', '--groups', 'memory', '--compare-pairs', '1']).groups, [
    'memory',
  ]);
  assert.throws(() => parseBenchArgs(['--compare-pairs', '0']), /--compare-pairs must be a whole number/);
  assert.throws(() => parseBenchArgs(['--serve-seconds', '1.5']), /--serve-seconds must be a whole number/);
  // --no-cluster leaves the cluster group out, whether the groups were named or not.
  assert.not.ok(parseBenchArgs(['--no-cluster']).groups.includes('cluster'));
  assert.equal(parseBenchArgs(['--groups', 'cluster,memory', '--no-cluster']).groups, ['memory']);
  assert.equal(parseBenchArgs(['--cluster-kills', '3', '--cluster-node-timeout', '2000']).clusterKills, 3);
  assert.throws(() => parseBenchArgs(['--cluster-kills', '0']), /--cluster-kills must be a whole number/);
  assert.throws(() => parseBenchArgs(['--cluster-node-timeout', '50']), /--cluster-node-timeout must be 100-120000 ms/);
});

bench('the command line: the defaults, and what --quick changes', () => {
  const defaults = parseBenchArgs([]);
  assert.equal(
    {
      quick: defaults.quick,
      groups: defaults.groups,
      jsonFile: defaults.jsonFile,
      reportFile: defaults.reportFile,
      rounds: defaults.rounds,
      serveSeconds: defaults.serveSeconds,
      visibilityRegistrations: defaults.visibilityRegistrations,
      dashboardSeconds: defaults.dashboardSeconds,
      memoryTransfers: defaults.memoryTransfers,
      memoryRetentionMs: defaults.memoryRetentionMs,
      compareWith: defaults.compareWith,
      comparePairs: defaults.comparePairs,
      clusterKills: defaults.clusterKills,
      clusterNodeTimeoutMs: defaults.clusterNodeTimeoutMs,
    },
    {
      quick: false,
      groups: ['replay', 'restart_to_ready', 'serve', 'visibility', 'transfers', 'cluster', 'memory', 'dashboard'],
      jsonFile: undefined,
      reportFile: 'bench-report.html',
      rounds: 5,
      serveSeconds: 5,
      visibilityRegistrations: 1_000,
      dashboardSeconds: 600,
      memoryTransfers: 20_000,
      memoryRetentionMs: 15_000,
      compareWith: undefined,
      comparePairs: 5,
      clusterKills: 20,
      clusterNodeTimeoutMs: 5_000,
    },
  );
  const quick = parseBenchArgs(['--quick']);
  assert.equal(
    [quick.quick, quick.rounds, quick.serveSeconds, quick.dashboardSeconds, quick.comparePairs],
    [true, 3, 2, 15, 3],
  );
  assert.equal([quick.memoryTransfers, quick.memoryRetentionMs], [5_000, 5_000]);
  assert.equal([quick.clusterKills, quick.clusterNodeTimeoutMs], [2, 1_000]);
  assert.equal(quick.groups, defaults.groups);
  // A value given wins over --quick's, in either order.
  const given = parseBenchArgs(['--serve-seconds', '7', '--quick', '--sizes', '10M', '--dashboard-seconds=30']);
  assert.equal([given.serveSeconds, given.dashboardSeconds, given.histories.map((h) => h.name)], [7, 30, ['10M']]);
});

bench.run();
