/**
 * The stack's Redis Cluster as `pnpm start --cluster` runs it (3 primaries × 2 replicas, each node
 * supervised, node timeout 1 s here), and `pnpm kill primary|replica|failover` run as a user runs
 * them: a killed primary is failed over and comes back as a replica, a manual failover promotes a
 * replica, a killed replica comes back; and a full stop and start loses nothing.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { transfersKey } from '@microbank/events';
import { clusterCommand, clusterTopology, shardIn, waitForWholeCluster } from '@microbank/redis-runner';
import { REPO_ROOT, testSuite, waitFor } from '@microbank/testing';
import { Cluster } from 'ioredis';
import * as assert from 'uvu/assert';
import { type StackClusterRedis, startClusterRedis } from './cluster-redis.ts';
import { readPid } from './pid-files.ts';
import { planStack, type StackCluster, type StackPlan, stackSettings, writePlan } from './stack-plan.ts';

const run = promisify(execFile);

interface Context {
  dataDir: string;
  plan: StackPlan;
  cluster: StackCluster;
  redis: StackClusterRedis;
  said: string[];
}

const stackCluster = testSuite<Context>('the local stack`s Redis Cluster and pnpm kill on it', {} as Context);

const settingsFor = (dataDir: string) =>
  stackSettings(
    {
      MICROBANK_DATA_DIR: dataDir,
      MICROBANK_PORT_BASE: '0',
      MICROBANK_REDIS_PORT: '0',
      MICROBANK_CLUSTER_NODE_TIMEOUT_MS: '1000',
    },
    { cluster: true },
  );

const start = (ctx: Context) =>
  startClusterRedis(ctx.cluster, ctx.dataDir, (component, line) => ctx.said.push(`${component} | ${line}`));

stackCluster.before(async (ctx) => {
  ctx.dataDir = mkdtempSync(join(tmpdir(), 'microbank-stack-cluster-'));
  ctx.said = [];
  ctx.plan = await planStack(settingsFor(ctx.dataDir));
  ctx.cluster = ctx.plan.redisCluster as StackCluster;
  writePlan(ctx.plan);
  ctx.redis = await start(ctx);
});

stackCluster.after(async (ctx) => {
  await ctx.redis?.stop();
  rmSync(ctx.dataDir, { recursive: true, force: true });
});

const ports = (ctx: Context) => ctx.cluster.nodes.map((node) => node.port);
const nameOf = (ctx: Context, port: number) => ctx.cluster.nodes.find((node) => node.port === port)?.name;
const portOf = (ctx: Context, name: string) => ctx.cluster.nodes.find((node) => node.name === name)?.port as number;

async function pnpmKill(ctx: Context, ...args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'tools/local-stack/src/kill.ts', ...args], {
    cwd: REPO_ROOT,
    env: { ...process.env, MICROBANK_DATA_DIR: ctx.dataDir },
    encoding: 'utf8',
    timeout: 60_000,
  });
  return stdout.trim();
}

type ShardView = NonNullable<ReturnType<typeof shardIn>>;

async function shardOfSlot(ctx: Context, slot: number): Promise<ShardView> {
  const shard = shardIn(await clusterTopology(ctx.cluster.nodes[0]?.port as number), slot);
  if (!shard) throw new Error(`no primary serves slot ${slot}`);
  return shard;
}

/** Until every node sees the shard of `slot` as `accept` wants it. */
async function waitForShard(ctx: Context, slot: number, accept: (shard: ShardView) => boolean) {
  await waitFor(
    `every node to see the shard of slot ${slot} as expected`,
    () => Promise.all(ports(ctx).map(async (port) => shardIn(await clusterTopology(port), slot))),
    (seen) => seen.every((shard) => shard !== undefined && accept(shard)),
    { timeoutMs: 15_000, intervalMs: 100 },
  );
}

/** Until the node has a new process, sees itself as `role`, and the cluster is whole again. */
async function waitForComeback(ctx: Context, name: string, pidBefore: string | undefined, role: 'replica') {
  const port = portOf(ctx, name);
  await waitFor(
    `${name} to be started again as a ${role}`,
    async () => ({
      pid: readPid(ctx.dataDir, name)?.handle,
      role: (await clusterTopology(port)).find((node) => node.flags.includes('myself'))?.role,
    }),
    (seen) => seen.pid !== undefined && seen.pid !== pidBefore && seen.role === role,
    { timeoutMs: 30_000, intervalMs: 100 },
  );
  await waitForWholeCluster(ports(ctx), ctx.cluster, { timeoutMs: 30_000 });
}

stackCluster(
  'created on the first start: 3 primaries with 2 replicas each, every node with its PID file',
  async (ctx) => {
    assert.is(ctx.redis.formed, 'created');
    const view = await clusterTopology(ctx.cluster.nodes[0]?.port as number);
    const primaries = view.filter((node) => node.role === 'primary');
    assert.is(primaries.length, 3);
    for (const primary of primaries) {
      assert.is(
        view.filter((node) => node.primaryId === primary.id).length,
        2,
        `${nameOf(ctx, primary.port)}'s replicas`,
      );
    }
    for (const node of ctx.cluster.nodes) assert.ok(readPid(ctx.dataDir, node.name), `${node.name} has a PID file`);
    const config = await clusterCommand(ctx.cluster.nodes[0]?.port as number, [
      'CONFIG',
      'GET',
      'min-replicas-to-write',
    ]);
    assert.match(config, /min-replicas-to-write\s+1/);
  },
);

stackCluster(
  'pnpm kill primary: the transfers stream`s primary is killed, failed over, and comes back as a replica',
  async (ctx) => {
    const slot = Number(
      await clusterCommand(ctx.cluster.nodes[0]?.port as number, ['CLUSTER', 'KEYSLOT', transfersKey()]),
    );
    const before = await shardOfSlot(ctx, slot);
    const name = nameOf(ctx, before.primary.port) as string;
    const pidBefore = readPid(ctx.dataDir, name)?.handle;

    const said = await pnpmKill(ctx, 'primary');
    assert.match(
      said,
      `killed ${name} (pid ${pidBefore}, port ${before.primary.port}) with SIGKILL: the primary of slots`,
    );
    assert.match(said, `slot ${slot} (microbank:{transfers})`);

    await waitForComeback(ctx, name, pidBefore, 'replica');
    // One of its replicas serves the slot now, and the killed node is that one's replica.
    await waitForShard(
      ctx,
      slot,
      (after) =>
        before.replicas.some((replica) => replica.id === after.primary.id) &&
        after.replicas.some((replica) => replica.id === before.primary.id),
    );
    assert.ok(
      ctx.said.some((line) => line.startsWith(`${name} | its peers have failed it over`)),
      'the stack said why it waited',
    );
  },
);

stackCluster('pnpm kill failover <slot>: one replica of that slot`s shard takes over, no node killed', async (ctx) => {
  const before = await shardOfSlot(ctx, 0);
  const said = await pnpmKill(ctx, 'failover', '0');
  const promoted =
    /^(redis-\d) \(port (\d+)\) took over slots (\S+) \(slot 0\) from (redis-\d) with CLUSTER FAILOVER/.exec(said);
  assert.ok(promoted, said);
  assert.is(promoted[4], nameOf(ctx, before.primary.port));
  assert.ok(before.replicas.some((replica) => replica.port === Number(promoted[2])));
  // Every node learns of it by gossip: the promoted one serves slot 0, the old primary is its replica.
  await waitForShard(
    ctx,
    0,
    (after) =>
      after.primary.port === Number(promoted[2]) && after.replicas.some((replica) => replica.id === before.primary.id),
  );
  await waitForWholeCluster(ports(ctx), ctx.cluster, { timeoutMs: 30_000 });
});

stackCluster('pnpm kill replica <key>: a replica of that key`s shard is killed and comes back', async (ctx) => {
  const slot = Number(
    await clusterCommand(ctx.cluster.nodes[0]?.port as number, [
      'CLUSTER',
      'KEYSLOT',
      'microbank:ledger:{mary-account}',
    ]),
  );
  const before = await shardOfSlot(ctx, slot);
  const said = await pnpmKill(ctx, 'replica', 'microbank:ledger:{mary-account}');
  const killed = /^killed (redis-\d) \(pid (\d+), port (\d+)\) with SIGKILL: a replica of (redis-\d)/.exec(said);
  assert.ok(killed, said);
  assert.is(killed[4], nameOf(ctx, before.primary.port));
  await waitForComeback(ctx, killed[1] as string, killed[2], 'replica');
  assert.is((await shardOfSlot(ctx, slot)).primary.id, before.primary.id, 'its primary kept the slot');
});

stackCluster(
  'pnpm kill failover at once after pnpm kill primary on the same shard waits for it to settle, then promotes a replica',
  async (ctx) => {
    const slot = 9_000;
    const before = await shardOfSlot(ctx, slot);
    const killedName = nameOf(ctx, before.primary.port) as string;
    assert.match(await pnpmKill(ctx, 'primary', String(slot)), `killed ${killedName} `);
    const said = await pnpmKill(ctx, 'failover', String(slot));
    const promoted =
      /^(redis-\d) \(port (\d+)\) took over slots \S+ \(slot 9000\) from (redis-\d) with CLUSTER FAILOVER/.exec(said);
    assert.ok(promoted, said);
    assert.is.not(promoted[3], killedName, 'from the replica that had taken over, not from the killed node');
    await waitForShard(ctx, slot, (after) => after.primary.port === Number(promoted[2]));
    await waitForWholeCluster(ports(ctx), ctx.cluster, { timeoutMs: 30_000 });
  },
);

stackCluster(
  'a full stop and start of every node loses nothing: the same nodes rejoin, not a new cluster',
  async (ctx) => {
    await waitForWholeCluster(ports(ctx), ctx.cluster, { timeoutMs: 30_000 });
    const seeds = () => ctx.cluster.nodes.map(({ port }) => ({ host: '127.0.0.1', port }));
    const writer = new Cluster(seeds(), { redisOptions: { commandTimeout: 5_000 } });
    writer.on('error', () => {});
    const written = new Map<string, string>();
    try {
      for (const tag of ['transfers', 'john-account', 'mary-account', 'accounts', 'x', 'y', 'z']) {
        const key = `full-stop:{${tag}}`;
        written.set(key, (await writer.xadd(key, '*', 'v', tag)) as string);
      }
    } finally {
      writer.disconnect();
    }
    const roles = (await clusterTopology(ctx.cluster.nodes[0]?.port as number)).map(
      (node) => `${node.id} ${node.role}`,
    );

    await ctx.redis.stop();
    // As `pnpm start --cluster` does on the same data dir: planned again (free ports asked for, the
    // nodes' own nodes.conf wins), started, formed.
    const replanned = await planStack(settingsFor(ctx.dataDir));
    assert.equal(replanned.redisCluster?.nodes, ctx.cluster.nodes, 'the same ports and dirs');
    ctx.redis = await start(ctx);
    assert.is(ctx.redis.formed, 'rejoined');
    assert.equal(
      (await clusterTopology(ctx.cluster.nodes[0]?.port as number)).map((node) => `${node.id} ${node.role}`).sort(),
      roles.sort(),
      'the same nodes in the same roles',
    );

    const reader = new Cluster(seeds(), { redisOptions: { commandTimeout: 5_000 } });
    reader.on('error', () => {});
    try {
      for (const [key, id] of written) {
        assert.equal(
          (await reader.xrange(key, '-', '+')).map(([entry]) => entry),
          [id],
          key,
        );
      }
    } finally {
      reader.disconnect();
    }
  },
);

stackCluster.run();
