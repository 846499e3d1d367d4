import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnNode, testSuite } from '@microbank/testing';
import * as assert from 'uvu/assert';
import { parseBenchArgs } from './bench-options.ts';
import type { BenchFigures, TargetCheck } from './report.ts';

const bench = testSuite('bench');

bench('--quick at the smallest size takes every group of figures and writes them as JSON', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'microbank-bench-test-'));
  const jsonFile = join(dir, 'out.json');
  try {
    const bench = spawnNode('tools/bench/src/main.ts', {
      args: ['--quick', '--sizes', '10k', '--serve-seconds', '1', '--json', jsonFile],
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
    }
    const [restart] = figures.restart_to_ready;
    assert.is(restart?.runs, 3);
    assert.ok((restart?.medianMs ?? 0) > 0 && (restart?.bareProcessMs ?? 0) > 0, 'restart figures');
    assert.ok((figures.serve?.serviceRps ?? 0) > 0 && (figures.serve?.bareRps ?? 0) > 0, 'serve figures');
    assert.is(figures.visibility?.registrations, 1_000);
    const transfers = figures.transfers;
    assert.ok((transfers?.sustainedPerSecond ?? 0) > 0 && (transfers?.floorPerSecond ?? 0) > 0, 'transfer figures');
    assert.ok((transfers?.latencySamples ?? 0) > 0, 'latencies taken');
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
      'memory:',
      'targets',
    ]) {
      assert.ok(stdout.includes(heading), `the table has ${heading}`);
    }
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
  assert.throws(() => parseBenchArgs(['--sizes', '5k']), /unknown size 5k/);
  assert.throws(() => parseBenchArgs(['--fast']), /unknown argument --fast/);
  assert.throws(() => parseBenchArgs(['--json']), /--json needs a value/);
  assert.ok(parseBenchArgs([]).groups.includes('memory'));
  // --compare-with alone runs only the comparison; with --groups, those groups too.
  const compare = parseBenchArgs(['--quick', '--compare-with', '/tmp/before']);
  assert.equal([compare.compareWith, compare.groups, compare.comparePairs], ['/tmp/before', [], 3]);
  assert.equal(parseBenchArgs(['--compare-with', 'x', '--groups', 'memory', '--compare-pairs', '1']).groups, [
    'memory',
  ]);
  assert.throws(() => parseBenchArgs(['--compare-pairs', '0']), /--compare-pairs must be a whole number/);
});

bench.run();
