/**
 * A real Redis Cluster of three primaries with one replica each (cluster-node-timeout 1 s), through
 * ioredis' Cluster client: WAIT rides in one pipeline with the write and reaches the node that took
 * it; a write confirmed by WAIT survives the loss of its primary; and the negative control, a write
 * the primary acknowledged but no replica had, is gone after the failover, so a checker can see it.
 */
import { waitFor } from '@microbank/processes';
import { Cluster } from 'ioredis';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { type RedisCluster, startRedisCluster } from './redis-cluster.ts';

interface Shard {
  /** A hash tag whose keys land on this shard's slot. */
  tag: string;
  slot: number;
  primary: number;
  replica: number;
}

interface Ctx {
  redis: RedisCluster;
  client: Cluster;
  /** One hash tag per primary, in the order of `redis.nodes`. */
  shards: Shard[];
}

const NODE_TIMEOUT_MS = 1000;
const FAILOVER_DEADLINE_MS = 20_000;

const cluster = suite<Ctx>('a Redis Cluster of 3 primaries × 1 replica', {} as Ctx);

cluster.before(async (ctx) => {
  ctx.redis = await startRedisCluster({ masters: 3, replicasPerMaster: 1, nodeTimeoutMs: NODE_TIMEOUT_MS });
  ctx.client = new Cluster(ctx.redis.nodes, {
    // Ride out a failover of about the node timeout plus the replica's election delay.
    retryDelayOnFailover: 200,
    maxRedirections: 50,
    redisOptions: { commandTimeout: 5_000, connectionName: 'redis-cluster-test' },
  });
  // A killed node's connection errors are expected here; the assertions say what matters.
  ctx.client.on('error', () => {});
  ctx.shards = [];
  for (const { port } of ctx.redis.nodes) {
    for (let code = 'a'.charCodeAt(0); code <= 'z'.charCodeAt(0); code++) {
      const tag = String.fromCharCode(code);
      const slot = await ctx.redis.keySlot(`{${tag}}`);
      const shard = await ctx.redis.shardOf(slot);
      if (shard.primary !== port) continue;
      assert.is(shard.replicas.length, 1, `primary ${port} has one replica`);
      ctx.shards.push({ tag, slot, primary: port, replica: shard.replicas[0] as number });
      break;
    }
  }
  assert.is(ctx.shards.length, 3, 'a hash tag for each primary');
});

cluster.after(async (ctx) => {
  ctx.client?.disconnect();
  await ctx.redis?.dispose();
});

/** A pipeline's results, or its first error thrown. */
function results(replies: Array<[Error | null, unknown]> | null): unknown[] {
  if (!replies) throw new Error('the pipeline answered nothing');
  return replies.map(([error, result]) => {
    if (error) throw error;
    return result;
  });
}

/** XADD then WAIT in one cluster pipeline, plus `CONFIG GET port` to name the node that answered. */
async function addAndWait(client: Cluster, key: string, value: string, waitMs: number) {
  const replies = await client
    .pipeline()
    .xadd(key, '*', 'v', value)
    .call('WAIT', '1', String(waitMs))
    .call('CONFIG', 'GET', 'port')
    .exec();
  const [id, acked, port] = results(replies);
  return { id: id as string, acked: acked as number, port: Number((port as string[])[1]) };
}

/** XRANGE through the cluster client once it routes the key's slot to `primary` (after it refreshes its slots). */
async function rangeOn(client: Cluster, key: string, primary: number) {
  const answered = await waitFor(
    `the cluster client to read ${key} from ${primary}`,
    async () => {
      await new Promise<void>((resolve, reject) =>
        client.refreshSlotsCache((error) => (error ? reject(error) : resolve())),
      );
      const replies = await client.pipeline().xrange(key, '-', '+').call('CONFIG', 'GET', 'port').exec();
      const [entries, port] = results(replies);
      return { entries: entries as Array<[string, string[]]>, port: Number((port as string[])[1]) };
    },
    (seen) => seen.port === primary,
    { timeoutMs: 10_000, intervalMs: 100 },
  );
  return answered.entries.map(([id]) => id);
}

/** SIGKILL the primary (after `beforeFailover`, with the primary dead) and wait until `replica` serves the slot; the ms from the kill. */
async function failOver(redis: RedisCluster, shard: Shard, beforeFailover: () => void = () => {}) {
  const killedAt = Date.now();
  await redis.kill(shard.primary);
  beforeFailover();
  await redis.waitForPrimary(shard.replica, shard.slot, { timeoutMs: FAILOVER_DEADLINE_MS });
  return Date.now() - killedAt;
}

cluster('WAIT in one pipeline with the write reaches the primary that took it, on each of the three', async (ctx) => {
  for (const shard of ctx.shards) {
    const key = `routing:{${shard.tag}}`;
    const confirmed = await addAndWait(ctx.client, key, 'confirmed', 2_000);
    assert.is(confirmed.port, shard.primary, `the pipeline for {${shard.tag}} went to its primary`);
    assert.is(confirmed.acked, 1, `WAIT for {${shard.tag}} counted the replica`);

    // The proof that it is this primary's replica WAIT counts: with it frozen, WAIT finds none.
    ctx.redis.pause(shard.replica);
    try {
      const unconfirmed = await addAndWait(ctx.client, key, 'unconfirmed', 200);
      assert.is(unconfirmed.port, shard.primary);
      assert.is(unconfirmed.acked, 0, `WAIT for {${shard.tag}} with its replica frozen`);
    } finally {
      ctx.redis.resume(shard.replica);
    }
    // Back in sync before the next shard (and the next test) relies on it.
    await waitFor(
      `the replica of {${shard.tag}} to acknowledge again`,
      () => addAndWait(ctx.client, key, 'again', 500),
      (seen) => seen.acked === 1,
      { timeoutMs: 10_000 },
    );
  }
});

cluster('a write confirmed by WAIT survives the SIGKILL of its primary', async (ctx) => {
  const shard = ctx.shards[0] as Shard;
  const key = `confirmed:{${shard.tag}}`;
  const { id, acked, port } = await addAndWait(ctx.client, key, 'kept', 2_000);
  assert.is(port, shard.primary);
  assert.is(acked, 1, 'the replica confirmed the write');

  const failoverMs = await failOver(ctx.redis, shard);
  console.log(`    failover after SIGKILL of the primary (node timeout ${NODE_TIMEOUT_MS} ms): ${failoverMs} ms`);

  assert.equal(await rangeOn(ctx.client, key, shard.replica), [id], 'the confirmed entry is on the new primary');
});

cluster('negative control: a write acknowledged but never replicated is lost in the failover', async (ctx) => {
  const shard = ctx.shards[1] as Shard;
  const key = `acknowledged:{${shard.tag}}`;
  const kept = await addAndWait(ctx.client, key, 'kept', 2_000);
  assert.is(kept.acked, 1, 'the first entry is confirmed');

  ctx.redis.pause(shard.replica);
  // A frozen replica still takes the replication stream into its kernel socket buffer and applies it
  // on SIGCONT (measured: the entry then survives). Cutting the link makes the write reach no replica.
  await ctx.redis.command(shard.primary, ['CLIENT', 'KILL', 'TYPE', 'replica']);
  const lost = await addAndWait(ctx.client, key, 'lost', 300);
  assert.is(lost.port, shard.primary);
  assert.ok(/^\d+-\d+$/.test(lost.id), 'the primary acknowledged the XADD with an id');
  assert.is(lost.acked, 0, 'no replica confirmed it');

  const failoverMs = await failOver(ctx.redis, shard, () => ctx.redis.resume(shard.replica));
  console.log(`    failover of a frozen-then-resumed replica (no CLUSTER FAILOVER needed): ${failoverMs} ms`);

  const ids = await rangeOn(ctx.client, key, shard.replica);
  assert.equal(ids, [kept.id], 'the confirmed entry is there, the acknowledged one is gone');
  assert.is(Number(await ctx.client.xlen(key)), 1);
});

cluster.run();
