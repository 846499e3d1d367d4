/**
 * What a projection applies on a real Redis Cluster of 3 primaries × 1 replica (node timeout 1 s),
 * its reads confirmed by a replica (confirmRead): an entry its replica holds, at once; none while
 * the replica is frozen (it could still be promoted, lacking the entry), even once flagged failed;
 * and, after the primary's death, what its successor holds although no replica confirms it: the
 * successor has no replica at all until the old primary rejoins, so nothing could take its place
 * and lose the entry, and a projection that waited for a confirmation would stand still. And a
 * tail over several slots, which polls, backs off while they stay empty.
 */
import { type RedisCluster, startRedisCluster, testSuite } from '@microbank/testing';
import * as assert from 'uvu/assert';
import { silentLog } from './log.ts';
import { startNotesProjection } from './notes-projection.ts';
import { connectRedis, type RedisClient, untilReady } from './redis-connection.ts';

interface Context {
  redis: RedisCluster;
  open: RedisClient[];
}
const confirmedReads = testSuite<Context>('confirmed reads on a Redis Cluster', { open: [] } as unknown as Context);

confirmedReads.before(async (ctx) => {
  ctx.redis = await startRedisCluster({ masters: 3, replicasPerMaster: 1, nodeTimeoutMs: 1_000 });
});
confirmedReads.after(async (ctx) => {
  // At once, not with QUIT: a cluster client that saw a primary die may still be reconnecting to
  // it, and a polite close of that one can leave it trying after the test (the run did not exit).
  for (const redis of ctx.open.splice(0)) redis.disconnect();
  await ctx.redis?.dispose();
});

const connect = async (ctx: Context, replicas: number) => {
  const redis = connectRedis(
    {
      urls: ctx.redis.nodes.map(({ host, port }) => `redis://${host}:${port}`),
      cluster: true,
      confirm: { replicas, timeoutMs: 300 },
    },
    'test:confirmed-reads',
    silentLog,
  );
  await untilReady(redis);
  return redis;
};

confirmedReads(
  'a projection of streams on two shards applies the one whose replica holds it while the other waits',
  async (ctx) => {
    const writer = await connect(ctx, 0);
    const redis = await connect(ctx, 1);
    const tailRedis = await connect(ctx, 1);
    ctx.open.push(writer, redis);
    // Two streams whose slots two different primaries serve.
    const shardOfTag = async (tag: string) => ctx.redis.shardOf(await ctx.redis.keySlot(`{${tag}}:stream`));
    const first = await shardOfTag('shard-a');
    let other = 'shard-b';
    for (let n = 0; (await shardOfTag(other)).primary === first.primary; n++) other = `shard-b${n}`;
    const [held, waiting] = [`{${other}}:stream`, '{shard-a}:stream'];
    const [frozen] = first.replicas;
    if (frozen === undefined) throw new Error('no replica');
    const { projection, applied } = startNotesProjection(redis, tailRedis, [held, waiting]);
    try {
      await projection.whenReady();
      ctx.redis.pause(frozen);
      const onWaiting = (await writer.xadd(waiting, '*', 'note', 'waits')) as string;
      const onHeld = (await writer.xadd(held, '*', 'note', 'held')) as string;
      assert.ok(await projection.waitForPosition(onHeld, 10_000, held), 'the other shard`s entry is applied');
      assert.equal(applied, ['held']);
      ctx.redis.resume(frozen);
      assert.ok(await projection.waitForPosition(onWaiting, 15_000, waiting), 'and this one once its replica holds it');
    } finally {
      ctx.redis.resume(frozen);
      await projection.stop();
    }
  },
);

confirmedReads(
  'a replica`s entry is applied, a frozen replica holds the next back, a primary with no replica left does not',
  async (ctx) => {
    const writer = await connect(ctx, 0);
    const redis = await connect(ctx, 1);
    const tailRedis = await connect(ctx, 1);
    ctx.open.push(writer, redis);
    const stream = '{confirmed-reads}:stream';
    const slot = await ctx.redis.keySlot(stream);
    const { primary, replicas } = await ctx.redis.shardOf(slot);
    const [replica] = replicas;
    if (replica === undefined) throw new Error(`the primary of slot ${slot} has no replica`);
    const { projection, applied } = startNotesProjection(redis, tailRedis, [stream]);
    const append = async (note: string) => (await writer.xadd(stream, '*', 'note', note)) as string;
    try {
      await projection.whenReady();
      assert.ok(await projection.waitForPosition(await append('held'), 10_000), 'an entry its replica holds');

      ctx.redis.pause(replica);
      const frozen = await append('not held');
      // Longer than the node timeout: the replica is flagged failed, and still not ignored.
      assert.not.ok(await projection.waitForPosition(frozen, 2_500), 'not applied while its replica is frozen');
      assert.equal(applied, ['held']);
      ctx.redis.resume(replica);
      assert.ok(await projection.waitForPosition(frozen, 15_000), 'applied once its replica holds it');

      await ctx.redis.kill(primary);
      await ctx.redis.waitForPrimary(replica, slot, { timeoutMs: 30_000 });
      const alone = await append('on a primary with no replica');
      assert.ok(
        await projection.waitForPosition(alone, 20_000),
        'applied: no replica is left that could take its primary`s place',
      );
      assert.equal(applied, ['held', 'not held', 'on a primary with no replica']);
    } finally {
      ctx.redis.resume(replica);
      await projection.stop();
    }
  },
);

/** XREADs answered by every node still running, summed (`INFO commandstats`). */
async function xreadsAnswered(redis: RedisCluster): Promise<number> {
  let total = 0;
  for (const { port } of await redis.topology()) {
    const stats = await redis.command(port, ['INFO', 'commandstats']).catch(() => '');
    total += Number(/cmdstat_xread:calls=(\d+)/.exec(stats)?.[1] ?? 0);
  }
  return total;
}

confirmedReads(
  'a tail over several slots polls less and less while they stay empty, and still applies at once',
  async (ctx) => {
    const writer = await connect(ctx, 0);
    const redis = await connect(ctx, 0);
    const tailRedis = await connect(ctx, 0);
    ctx.open.push(writer, redis, tailRedis);
    const streams = ['{idle-a}:stream', '{idle-b}:stream', '{idle-c}:stream'];
    const { projection, applied } = startNotesProjection(redis, tailRedis, streams);
    try {
      await projection.whenReady();
      const before = await xreadsAnswered(ctx.redis);
      await new Promise((resolve) => setTimeout(resolve, 2_000));
      const polls = (await xreadsAnswered(ctx.redis)) - before;
      // At a steady 25 ms, 2 s of three slots is about 240 reads; backing off up to 200 ms, about 40.
      assert.ok(polls < 100, `${polls} XREADs in 2 s of nothing`);
      const at = (await writer.xadd('{idle-b}:stream', '*', 'note', 'after a quiet while')) as string;
      assert.ok(await projection.waitForPosition(at, 5_000, '{idle-b}:stream'), 'applied');
      assert.equal(applied, ['after a quiet while']);
    } finally {
      await projection.stop();
    }
  },
);

confirmedReads.run();
