import { recordingLog, testSuite } from '@microbank/testing';
import * as assert from 'uvu/assert';
import { skipLog } from './skip-log.ts';

const skips = testSuite('skip log');

function clockedSkipLog() {
  const { log, lines } = recordingLog();
  let now = 0;
  const skipping = skipLog(log, 'test', { firstPerKind: 2, windowMs: 60_000, now: () => now });
  return {
    skipping,
    lines,
    advance: (ms: number) => {
      now += ms;
    },
  };
}

skips('the first of each kind one by one, then one summary per kind per window, whatever the batches', () => {
  const { skipping, lines, advance } = clockedSkipLog();
  let n = 0;
  // 1,000 batches of 3 entries, one second apart: 1,000 s, more than 16 windows.
  for (let batch = 0; batch < 1_000; batch++) {
    for (let i = 0; i < 3; i++) skipping.skipped('s', `${++n}-0`, 'not-json', 'bad JSON');
    skipping.tick();
    advance(1_000);
  }
  skipping.flush();
  const one = lines.filter((line) => line.obj.id !== undefined);
  const summaries = lines.filter((line) => line.obj.count !== undefined);
  assert.is(one.length, 2);
  assert.ok(summaries.length <= 17, `${summaries.length} summaries in 1,000 s`);
  assert.is(
    summaries.reduce((sum, line) => sum + (line.obj.count as number), 0),
    2_998,
  );
  assert.equal(
    { firstId: summaries[0]?.obj.firstId, lastId: summaries.at(-1)?.obj.lastId },
    { firstId: '3-0', lastId: '3000-0' },
  );
});

skips('a summary waits for the end of its window; each kind has its own', () => {
  const { skipping, lines, advance } = clockedSkipLog();
  for (let i = 1; i <= 5; i++) skipping.skipped('s', `${i}-0`, 'not-json', 'bad JSON');
  advance(30_000);
  for (let i = 6; i <= 9; i++) skipping.skipped('s', `${i}-0`, 'unknown-type', 'no such type');
  skipping.tick();
  assert.is(lines.length, 4, 'two of each kind, no summary yet');
  advance(30_000);
  skipping.tick();
  assert.equal(
    lines.slice(4).map((line) => line.obj),
    [{ projection: 'test', stream: 's', kind: 'not-json', count: 3, firstId: '3-0', lastId: '5-0' }],
  );
  advance(30_000);
  skipping.tick();
  skipping.tick();
  assert.equal(
    lines.slice(5).map((line) => [line.obj.kind, line.obj.count]),
    [['unknown-type', 2]],
  );
  skipping.flush();
  assert.is(lines.length, 6, 'nothing left to write');
});

skips.run();
