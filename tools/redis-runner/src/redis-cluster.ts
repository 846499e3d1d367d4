/**
 * A real Redis Cluster from redis-server binaries on free local ports (each with its own temporary
 * dir), joined by `redis-cli --cluster create`: for tests that prove the key design holds where
 * every key's slot matters, and, with replicas, for tests of failover (which node owns a slot, stop
 * or kill a node, wait until a replica has taken over).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { waitFor } from '@microbank/processes';
import { type ClusterNodeView, clusterCommand, clusterTopology, shardIn, waitForWholeCluster } from './cluster-view.ts';
import { freePort, type RedisServer, startRedisServer } from './redis-server.ts';

const run = promisify(execFile);

export interface RedisClusterOptions {
  /** Primaries (each serving a share of the 16384 slots). Default 3. */
  masters?: number;
  /** Replicas of each primary (`--cluster-replicas`). Default 0. */
  replicasPerMaster?: number;
  /** `cluster-node-timeout` in ms: how long a silent node has before it is flagged failing. Redis' default is 15000. */
  nodeTimeoutMs?: number;
}

/** What a node is doing, as far as this runner knows: a paused node answers nothing. */
type NodeState = 'running' | 'paused' | 'killed';

export interface RedisCluster {
  /** `127.0.0.1:<port>` of each primary at start (seed nodes for a client). */
  nodes: Array<{ host: string; port: number }>;
  /** A command on one node through redis-cli; its raw answer. Fails after `timeoutMs` (default 3000). */
  command(port: number, args: string[], timeoutMs?: number): Promise<string>;
  /** `CLUSTER NODES` as seen by the node on `port` (default: the first running node). */
  topology(port?: number): Promise<ClusterNodeView[]>;
  /** `CLUSTER KEYSLOT key`. */
  keySlot(key: string): Promise<number>;
  /** The primary serving `slot` and its replicas, as seen by `viaPort` (default: the first running node). */
  shardOf(slot: number, viaPort?: number): Promise<{ primary: number; replicas: number[] }>;
  /** SIGSTOP: the process freezes, its sockets stay open (the kernel still takes in what is sent to it). */
  pause(port: number): void;
  /** SIGCONT after a pause. */
  resume(port: number): void;
  /** SIGKILL, then wait for the exit. */
  kill(port: number): Promise<void>;
  /**
   * Waits until every running node sees the node on `port` as the primary of `slot` (so a client that
   * refreshes its slots from any of them finds it).
   */
  waitForPrimary(port: number, slot: number, options?: { timeoutMs?: number }): Promise<void>;
  dispose(): Promise<void>;
}

export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<RedisCluster> {
  const masters = options.masters ?? 3;
  const replicas = options.replicasPerMaster ?? 0;
  const total = masters * (1 + replicas);
  const dir = mkdtempSync(join(tmpdir(), 'microbank-cluster-'));
  const servers: RedisServer[] = [];
  const states = new Map<number, NodeState>();

  const server = (port: number): RedisServer => {
    const found = servers.find((candidate) => candidate.port === port);
    if (!found) throw new Error(`no cluster node on port ${port}`);
    return found;
  };
  const signal = (port: number, name: NodeJS.Signals) => process.kill(Number(server(port).handle), name);
  const running = () => servers.filter(({ port }) => states.get(port) === 'running').map(({ port }) => port);

  const command = async (port: number, args: string[], timeoutMs = 3000) => {
    if (states.get(port) !== 'running') throw new Error(`the cluster node on ${port} is ${states.get(port)}`);
    return clusterCommand(port, args, timeoutMs);
  };
  const firstRunning = () => {
    const port = running()[0];
    if (port === undefined) throw new Error('no cluster node is running');
    return port;
  };
  const topology = async (port = firstRunning()) => {
    if (states.get(port) !== 'running') throw new Error(`the cluster node on ${port} is ${states.get(port)}`);
    return clusterTopology(port);
  };
  const shardOf = async (slot: number, viaPort?: number) => {
    const shard = shardIn(await topology(viaPort), slot);
    if (!shard) throw new Error(`no primary serves slot ${slot}`);
    return { primary: shard.primary.port, replicas: shard.replicas.map((node) => node.port) };
  };

  const dispose = async () => {
    // SIGKILL ends a paused process too.
    for (const each of servers) await each.kill();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < total; i++) {
      // The cluster bus port would be port + 10000, past 65535 for a high free port: pick it too.
      const busPort = await freePort();
      const extraArgs = ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf'];
      extraArgs.push('--cluster-port', String(busPort));
      if (options.nodeTimeoutMs !== undefined) extraArgs.push('--cluster-node-timeout', String(options.nodeTimeoutMs));
      const started = await startRedisServer({ dataDir: join(dir, `node-${i}`), appendfsync: 'everysec', extraArgs });
      servers.push(started);
      states.set(started.port, 'running');
    }
    const addresses = servers.map((each) => `127.0.0.1:${each.port}`);
    await run('redis-cli', [
      '--cluster',
      'create',
      ...addresses,
      '--cluster-replicas',
      String(replicas),
      '--cluster-yes',
    ]);
    await waitForWholeCluster(
      servers.map(({ port }) => port),
      { primaries: masters, replicasPerPrimary: replicas },
    );
  } catch (error) {
    await dispose();
    throw error;
  }
  const primaries = (await topology()).filter((node) => node.role === 'primary').map((node) => node.port);
  const toAddress = (port: number) => ({ host: '127.0.0.1', port });

  return {
    nodes: primaries.map(toAddress),
    command,
    topology,
    keySlot: async (key) => Number(await command(firstRunning(), ['CLUSTER', 'KEYSLOT', key])),
    shardOf,
    pause(port) {
      signal(port, 'SIGSTOP');
      states.set(port, 'paused');
    },
    resume(port) {
      signal(port, 'SIGCONT');
      states.set(port, 'running');
    },
    async kill(port) {
      states.set(port, 'killed');
      await server(port).kill();
    },
    async waitForPrimary(port, slot, { timeoutMs = 30_000 } = {}) {
      await waitFor(
        `the node on ${port} to be primary of slot ${slot} for every running node`,
        () => Promise.all(running().map(async (via) => (await shardOf(slot, via)).primary)),
        (seen) => seen.length > 0 && seen.every((primary) => primary === port),
        { timeoutMs, intervalMs: 20 },
      );
    },
    dispose,
  };
}
