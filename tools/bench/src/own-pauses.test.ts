import { setImmediate } from 'node:timers/promises';
import { collectGarbage, testSuite } from '@microbank/testing';
import * as assert from 'uvu/assert';
import { watchOwnPauses } from './own-pauses.ts';

const pauses = testSuite("the bench's own GC pauses");

pauses('collections of this process, 1 ms or more each, on the performance.now() timeline', async () => {
  const before = performance.now();
  const watch = watchOwnPauses();
  // Objects that outlive a young collection or two: copying them makes pauses of several ms. Node
  // hands its GC entries over on a later turn of the event loop: each round yields for them.
  const kept: Array<Array<{ n: number }>> = [];
  for (let round = 0; round < 120; round++) {
    kept.push(Array.from({ length: 50_000 }, (_, n) => ({ n })));
    if (kept.length > 30) kept.shift();
    await setImmediate();
  }
  // And one full collection for certain, however large this machine's young generation: the one
  // the bench asks for before a measured run.
  collectGarbage();
  await setImmediate();
  const after = performance.now();
  const seen = watch.stop();
  assert.ok(seen.length > 0, 'no pause seen');
  for (const pause of seen) {
    assert.ok(pause.endMs - pause.startMs >= 1, `a pause of ${pause.endMs - pause.startMs} ms`);
    assert.ok(pause.startMs >= before && pause.endMs <= after, 'a pause outside the allocations');
  }
  assert.ok(
    seen.some((pause) => pause.full),
    'the full collection is seen as one',
  );
  assert.ok(
    seen.some((pause) => !pause.full),
    'the young collections are not',
  );
  assert.is(kept.length, 30);
});

pauses.run();
