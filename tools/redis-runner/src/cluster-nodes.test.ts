/**
 * A cluster that lives in its dirs (3 primaries × 1 replica, node timeout 1 s): created once, then
 * stopped and started again it rejoins from its nodes.conf with its data; a killed primary is
 * failed over and, started again on its port and dir, comes back as a replica; a node that lost
 * its dir is refused rather than joined by guess.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from '@microbank/processes';
import { Cluster } from 'ioredis';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import {
  ClusterFormingError,
  type ClusterNodeSpec,
  formCluster,
  planClusterNodes,
  recordedNode,
  startClusterNode,
  waitUntilFailedOver,
} from './cluster-nodes.ts';
import { clusterCommand, clusterTopology, shardIn } from './cluster-view.ts';
import { type RedisServer, startRedisServer } from './redis-server.ts';

const NODE_TIMEOUT_MS = 1000;
const SHAPE = { primaries: 3, replicasPerPrimary: 1 };
const COUNT = SHAPE.primaries * (1 + SHAPE.replicasPerPrimary);

interface Ctx {
  dir: string;
  nodes: ClusterNodeSpec[];
  servers: RedisServer[];
}

const nodes = suite<Ctx>('a Redis Cluster in dirs of its own, restartable', {} as Ctx);

const startAll = (ctx: Ctx) =>
  Promise.all(
    ctx.nodes.map((node) => startClusterNode(node, { nodeTimeoutMs: NODE_TIMEOUT_MS, appendfsync: 'everysec' })),
  );

nodes.before(async (ctx) => {
  ctx.dir = mkdtempSync(join(tmpdir(), 'microbank-cluster-nodes-'));
  ctx.nodes = await planClusterNodes(ctx.dir, COUNT, 0);
  ctx.servers = await startAll(ctx);
});

nodes.after(async (ctx) => {
  for (const server of ctx.servers ?? []) await server.kill();
  rmSync(ctx.dir, { recursive: true, force: true });
});

const client = (ctx: Ctx) => {
  const cluster = new Cluster(
    ctx.nodes.map(({ port }) => ({ host: '127.0.0.1', port })),
    { retryDelayOnFailover: 200, maxRedirections: 50, redisOptions: { commandTimeout: 5_000 } },
  );
  cluster.on('error', () => {});
  return cluster;
};

nodes(
  'created once; stopped and started again on the same ports and dirs, it rejoins with every entry',
  async (ctx) => {
    assert.is(await formCluster(ctx.nodes, SHAPE), 'created');
    const ids = ctx.nodes.map((node) => recordedNode(node.dataDir)?.id);
    assert.ok(ids.every(Boolean), 'every node recorded its id in nodes.conf');

    const writer = client(ctx);
    const written: Record<string, string> = {};
    try {
      for (const tag of ['john-account', 'mary-account', 'transfers', 'accounts', 'a', 'b', 'c']) {
        const key = `restart:{${tag}}`;
        written[key] = (await writer.xadd(key, '*', 'v', tag)) as string;
      }
    } finally {
      writer.disconnect();
    }

    // SIGTERM: each node fsyncs its AOF and exits.
    await Promise.all(ctx.servers.map((server) => server.stop()));
    const replanned = await planClusterNodes(ctx.dir, COUNT, 0);
    assert.equal(replanned, ctx.nodes, 'the same ports, bus ports and dirs, read from each nodes.conf');
    ctx.servers = await startAll(ctx);
    assert.is(await formCluster(ctx.nodes, SHAPE), 'rejoined', 'not created anew');
    assert.equal(
      ctx.nodes.map((node) => recordedNode(node.dataDir)?.id),
      ids,
      'the same node ids',
    );

    const reader = client(ctx);
    try {
      for (const [key, id] of Object.entries(written)) {
        const entries = await reader.xrange(key, '-', '+');
        assert.equal(
          entries.map(([entry]) => entry),
          [id],
          key,
        );
      }
    } finally {
      reader.disconnect();
    }
  },
);

nodes('a replica writing its first AOF refuses a SIGTERM; stop() ends it all the same', async (ctx) => {
  // What a replica does after each full sync (so after every restart of the cluster): it rewrites
  // its AOF from scratch, and Redis 7.0 will not shut down meanwhile. Made slow here to be seen.
  const view = await clusterTopology(ctx.nodes[0]?.port as number);
  const replica = ctx.servers.find((server) =>
    view.some((node) => node.port === server.port && node.role === 'replica'),
  );
  assert.ok(replica, 'a replica');
  const keys = Number(await clusterCommand(replica.port, ['DBSIZE']));
  assert.ok(keys > 0, 'the replica holds keys to rewrite');
  await clusterCommand(replica.port, ['CONFIG', 'SET', 'rdb-key-save-delay', String(Math.ceil(1_500_000 / keys))]);
  await clusterCommand(replica.port, ['CONFIG', 'SET', 'appendonly', 'no']);
  await clusterCommand(replica.port, ['CONFIG', 'SET', 'appendonly', 'yes']);
  await waitFor(
    'the replica to be writing its first AOF',
    () => clusterCommand(replica.port, ['INFO', 'persistence']),
    (info) => /aof_rewrite_in_progress:1/.test(info),
    { timeoutMs: 5_000 },
  );
  let timer: NodeJS.Timeout | undefined;
  const stopped = await Promise.race([
    replica.stop().then(() => true),
    new Promise<false>((resolve) => {
      timer = setTimeout(() => resolve(false), 10_000);
    }),
  ]);
  clearTimeout(timer);
  assert.ok(stopped, 'the replica exited within 10 s');
  await replica.restart();
  assert.is(await formCluster(ctx.nodes, SHAPE), 'rejoined');
});

nodes(
  'a killed primary is failed over, and started again on its port and dir it comes back as a replica',
  async (ctx) => {
    const slot = Number(
      await clusterCommand(ctx.nodes[0]?.port as number, ['CLUSTER', 'KEYSLOT', 'microbank:{transfers}']),
    );
    const before = shardIn(await clusterTopology(ctx.nodes[0]?.port as number), slot);
    assert.ok(before, `a primary serves slot ${slot}`);
    const index = ctx.servers.findIndex((server) => server.port === before.primary.port);
    const killed = ctx.servers[index] as RedisServer;
    const peers = ctx.servers.filter((server) => server !== killed).map((server) => server.port);

    await killed.kill();
    const startedAt = Date.now();
    assert.ok(
      await waitUntilFailedOver(before.primary.id, peers, { timeoutMs: 20_000 }),
      'the peers failed it over within 20 s',
    );
    console.log(`    failed over ${Date.now() - startedAt} ms after the SIGKILL (node timeout ${NODE_TIMEOUT_MS} ms)`);
    // Its replica serves the slot now, as every peer learns by gossip (some a little later).
    const after = await waitFor(
      'every peer to see its replica serve the slot',
      () => Promise.all(peers.map(async (port) => shardIn(await clusterTopology(port), slot))),
      (seen) => seen.every((shard) => shard?.primary.id === before.replicas[0]?.id),
      { timeoutMs: 10_000, intervalMs: 50 },
    ).then((seen) => seen[0]);

    await killed.restart();
    await waitFor(
      'the restarted node to be a replica of the new primary',
      async () => (await clusterTopology(killed.port)).find((node) => node.flags.includes('myself')),
      (myself) => myself?.role === 'replica' && myself.primaryId === after?.primary.id,
      { timeoutMs: 15_000, intervalMs: 100 },
    );
    assert.is(await formCluster(ctx.nodes, SHAPE), 'rejoined');
  },
);

nodes('a node that lost its dir is refused, not joined to the rest by guess', async (ctx) => {
  const last = ctx.servers.at(-1) as RedisServer;
  await last.kill();
  rmSync(last.dataDir, { recursive: true, force: true });
  await last.restart();
  try {
    await formCluster(ctx.nodes, SHAPE, { timeoutMs: 5_000 });
    assert.unreachable('formCluster accepted a blank node');
  } catch (error) {
    assert.instance(error, ClusterFormingError);
    assert.match((error as Error).message, /redis-6 know no cluster while the other nodes do/);
  }
});

nodes('a node`s port answered by another Redis (another dir) is named, not taken for the node', async (ctx) => {
  const first = ctx.servers[0] as RedisServer;
  await first.kill();
  const stranger = await startRedisServer({
    port: first.port,
    dataDir: join(ctx.dir, 'stranger'),
    appendfsync: 'everysec',
  });
  try {
    await formCluster(ctx.nodes, SHAPE, { timeoutMs: 5_000 });
    assert.unreachable('formCluster took a stranger for redis-1');
  } catch (error) {
    assert.instance(error, ClusterFormingError);
    assert.match((error as Error).message, `port ${first.port} (redis-1) answers from ${join(ctx.dir, 'stranger')}`);
  } finally {
    await stranger.kill();
  }
});

nodes.run();
