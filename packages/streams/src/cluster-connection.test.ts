/**
 * connectRedis' cluster client on a real Redis Cluster of 3 primaries × 2 replicas (node timeout
 * 1 s): writes sent all through a primary's SIGKILL and its replica's election are held and then
 * made on the new primary, never failed with a closed connection or a CLUSTERDOWN (the failover is
 * ridden out, not surfaced); each is confirmed by a replica or answered Unconfirmed, nothing else.
 * And a tail reads a stream and its incarnation marker from the stream's own node; a write to a slot
 * being moved to another primary (ASK) is made there once.
 */
import { type RedisCluster, startRedisCluster, testSuite, waitFor } from '@microbank/testing';
import * as assert from 'uvu/assert';
import { confirmedWrite, Unconfirmed } from './confirmed-write.ts';
import { hashTagOf, incarnationKey } from './keys.ts';
import { silentLog } from './log.ts';
import {
  COMMAND_TIMEOUT_MS,
  closeRedis,
  connectRedis,
  isCluster,
  readTogether,
  untilReady,
} from './redis-connection.ts';

const cluster = testSuite<{ redis: RedisCluster }>(
  'a cluster client through a failover',
  {} as { redis: RedisCluster },
);

cluster.before(async (ctx) => {
  ctx.redis = await startRedisCluster({ masters: 3, replicasPerMaster: 2, nodeTimeoutMs: 1_000 });
});
cluster.after(async (ctx) => {
  await ctx.redis?.dispose();
});

const connect = (ctx: { redis: RedisCluster }, replicas = 1) =>
  connectRedis(
    {
      urls: ctx.redis.nodes.map(({ host, port }) => `redis://${host}:${port}`),
      cluster: true,
      confirm: { replicas, timeoutMs: 2_000 },
    },
    'test:ride-out',
    silentLog,
  );

cluster('writes sent through a primary`s death are made on its successor, none failed', async (ctx) => {
  const redis = connect(ctx);
  await untilReady(redis);
  assert.ok(isCluster(redis));
  try {
    const key = '{ride-out}:count';
    const slot = await ctx.redis.keySlot(key);
    const { primary } = await ctx.redis.shardOf(slot);
    const outcomes: Array<'confirmed' | 'unconfirmed' | string> = [];
    let writing = true;
    const writer = (async () => {
      while (writing) {
        outcomes.push(
          await confirmedWrite(redis, key, (pipeline) => pipeline.incr(key)).then(
            () => 'confirmed',
            (error: Error) => (error instanceof Unconfirmed ? 'unconfirmed' : error.message),
          ),
        );
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    })();
    await waitFor(
      'writes before the kill',
      () => outcomes.length,
      (n) => n >= 10,
    );
    await ctx.redis.kill(primary);
    const successor = await waitFor(
      'a replica to take over the slot',
      async () => (await ctx.redis.shardOf(slot, ctx.redis.nodes.find(({ port }) => port !== primary)?.port)).primary,
      (port) => port !== primary,
      { timeoutMs: 20_000 },
    );
    const afterFailover = outcomes.length;
    await waitFor(
      'confirmed writes on the successor',
      () => outcomes.slice(afterFailover),
      (later) => later.filter((outcome) => outcome === 'confirmed').length >= 10,
      { timeoutMs: 20_000 },
    );
    writing = false;
    await writer;
    const failed = outcomes.filter((outcome) => outcome !== 'confirmed' && outcome !== 'unconfirmed');
    assert.equal(failed, [], `no write failed through the failover to ${successor}`);
  } finally {
    await closeRedis(redis);
  }
});

cluster('streams are read together only within a slot; an untagged stream`s marker is in its slot', async (ctx) => {
  const redis = connect(ctx);
  await untilReady(redis);
  try {
    const streams = ['microbank:accounts', 'microbank:ledger:{john-account}', 'microbank:ledger:{mary-account}'];
    const groups = readTogether(redis, streams, (stream) => stream);
    assert.equal(groups, [[streams[0]], [streams[1]], [streams[2]]]);
    for (const stream of streams) {
      assert.is(hashTagOf(incarnationKey(stream)), hashTagOf(stream));
      assert.is(await ctx.redis.keySlot(incarnationKey(stream)), await ctx.redis.keySlot(stream), stream);
    }
  } finally {
    await closeRedis(redis);
  }
});

cluster(
  'a shard that stops answering without closing (all its nodes frozen): a write sent to it fails in time',
  async (ctx) => {
    const redis = connect(ctx);
    await untilReady(redis);
    const key = '{frozen}:count';
    const { primary, replicas } = await ctx.redis.shardOf(await ctx.redis.keySlot(key));
    try {
      await confirmedWrite(redis, key, (pipeline) => pipeline.incr(key));
      // No failover can replace it: its connection stays open and nothing answers on it.
      for (const port of [primary, ...replicas]) ctx.redis.pause(port);
      const sent = performance.now();
      const outcome = await confirmedWrite(redis, key, (pipeline) => pipeline.incr(key)).then(
        () => 'answered',
        (error: Error) => error.message,
      );
      const waitedMs = performance.now() - sent;
      assert.match(outcome, /timed out/);
      assert.ok(waitedMs <= COMMAND_TIMEOUT_MS + 5_000, `failed after ${Math.round(waitedMs)} ms`);
    } finally {
      for (const port of [primary, ...replicas]) ctx.redis.resume(port);
      await closeRedis(redis);
    }
  },
);

/** Timers keeping this process alive. */
const timersHeld = () => process.getActiveResourcesInfo().filter((resource) => resource === 'Timeout').length;

cluster('a closed client leaves no timer behind, even closed while it reads the map of slots again', async (ctx) => {
  const before = timersHeld();
  const redis = connect(ctx);
  if (!isCluster(redis)) throw new Error('not a cluster client');
  await untilReady(redis);
  // Closed in the middle of a periodic read of the map of slots: ioredis' own slotsRefreshInterval
  // armed its next round then, and every 2 s after, forever.
  await new Promise<void>((resolve) =>
    redis.once('refresh', () => {
      redis.disconnect();
      resolve();
    }),
  );
  await waitFor(
    'the client`s timers to be gone',
    async () => timersHeld(),
    (held) => held <= before,
    {
      timeoutMs: 6_000,
    },
  );
});

/** How many ASK redirections the node on `port` has answered (`INFO errorstats`). */
async function asksAnswered(redis: RedisCluster, port: number): Promise<number> {
  const info = await redis.command(port, ['INFO', 'errorstats']);
  return Number(/errorstat_ASK:count=(\d+)/.exec(info)?.[1] ?? 0);
}

cluster('a write to a slot on its way to another primary is made there once, confirmed or not', async (ctx) => {
  const key = '{moving}:count';
  const slot = await ctx.redis.keySlot(key);
  const { primary: source } = await ctx.redis.shardOf(slot);
  const nodes = await ctx.redis.topology(source);
  const sourceId = nodes.find(({ port }) => port === source)?.id;
  const target = nodes.find(
    ({ role, port, flags }) => role === 'primary' && port !== source && !flags.includes('fail'),
  );
  if (!sourceId || !target) throw new Error(`no second primary to move slot ${slot} to`);
  const plain = connect(ctx, 0);
  const confirmed = connect(ctx, 1);
  await Promise.all([untilReady(plain), untilReady(confirmed)]);
  try {
    // The slot is moving: the source answers ASK for a key it does not hold, the target takes it after ASKING.
    await ctx.redis.command(target.port, ['CLUSTER', 'SETSLOT', String(slot), 'IMPORTING', sourceId]);
    await ctx.redis.command(source, ['CLUSTER', 'SETSLOT', String(slot), 'MIGRATING', target.id]);
    // Without confirmation ioredis follows the ASK itself, putting an ASKING before the command.
    assert.is(await confirmedWrite(plain, key, (pipeline) => pipeline.incr(key)), 1);

    // With confirmation the WAIT is answered where the write was not made: it is sent again until the slot has moved.
    const asked = await asksAnswered(ctx.redis, source);
    const second = confirmedWrite(confirmed, key, (pipeline) => pipeline.incr(key));
    await waitFor(
      'the confirmed write to be answered ASK',
      () => asksAnswered(ctx.redis, source),
      (asks) => asks > asked,
    );
    for (const { port } of [target, { port: source }]) {
      await ctx.redis.command(port, ['CLUSTER', 'SETSLOT', String(slot), 'NODE', target.id]);
    }
    assert.is(await second, 2);
    assert.is(await plain.get(key), '2', 'each write made once');
  } finally {
    await Promise.all([closeRedis(plain), closeRedis(confirmed)]);
  }
});

cluster.run();
