/**
 * readBatches against a real Redis: every entry after the start, in order and in batches that grow
 * towards the batch size, each batch emptied once the next is asked for (so that a reply's array
 * does not keep its entries alive in the old generation; docs/performance.md, "The cold path").
 */
import { redisSuite, uniquePrefix } from '@microbank/testing';
import * as assert from 'uvu/assert';
import { batchSizer } from './batch-sizer.ts';
import { readBatches } from './event-store.ts';
import { silentLog } from './log.ts';
import { connectRedis } from './redis-connection.ts';
import type { StreamEntry } from './stream-entry.ts';

const store = redisSuite<Record<string, never>>('event store reads', {
  connect: (url) => connectRedis(url, 'test:event-store', silentLog),
  extra: {},
});

store('readBatches brings every entry in order, and empties each batch once the next is asked for', async (ctx) => {
  const stream = `${uniquePrefix()}:events`;
  const ids: string[] = [];
  for (let n = 0; n < 300; n++) ids.push((await ctx.redis.xadd(stream, '*', 'n', String(n))) as string);
  const read: string[] = [];
  const batches: StreamEntry[][] = [];
  for await (const batch of readBatches(ctx.redis, stream, '0-0', '+', batchSizer(100))) {
    for (const [id, fields] of batch) {
      read.push(id.toString('latin1'));
      assert.is(fields[1]?.toString('latin1'), String(read.length - 1));
    }
    if (batches.length > 0) assert.is(batches.at(-1)?.length, 0, 'the batch before emptied');
    batches.push(batch);
  }
  assert.equal(read, ids);
  // 32, 64, then 100 at a time (batch-sizer.ts).
  assert.ok(batches.length >= 4, `${batches.length} batches`);
  assert.is(batches.at(-1)?.length, 0, 'the last one too, once the reads are over');
});

store.run();
