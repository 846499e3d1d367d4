/**
 * A Redis Cluster whose nodes live in dirs of the caller's (the local stack's data dir) and outlive
 * their processes, as the pods of a StatefulSet do: a node started again on its port and dir rejoins
 * from its nodes.conf, and the cluster is created only when no node knows one yet.
 */
import { execFile } from 'node:child_process';
import { readFileSync, realpathSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type WaitOptions, waitFor } from '@microbank/processes';
import { clusterCommand, clusterTopology, waitForWholeCluster } from './cluster-view.ts';
import { type RedisServer, startRedisServer, waitForPong } from './redis-server.ts';

const run = promisify(execFile);

/** Where one node runs and keeps its data (AOF and nodes.conf). */
export interface ClusterNodeSpec {
  /** `redis-1`, `redis-2`, ...: also its dir's name. */
  name: string;
  port: number;
  /** The cluster bus (node-to-node gossip); recorded in every peer's nodes.conf, so it must not move. */
  busPort: number;
  dataDir: string;
}

export interface ClusterShape {
  primaries: number;
  replicasPerPrimary: number;
}

/** What `cluster-node-timeout` the local stack uses: how long a silent node has before it is failed over. */
export const DEFAULT_NODE_TIMEOUT_MS = 5_000;

const CONFIG_FILE = 'nodes.conf';

/** The settings every node of a bank's cluster runs with (docs/operations: the Redis settings contract). */
export function clusterNodeArgs(busPort: number, nodeTimeoutMs: number): string[] {
  return [
    '--cluster-enabled',
    'yes',
    '--cluster-config-file',
    CONFIG_FILE,
    '--cluster-port',
    String(busPort),
    '--cluster-node-timeout',
    String(nodeTimeoutMs),
    // A shard without a primary stops the whole cluster, and nothing is read from a cut-off node:
    // better refused than served stale.
    '--cluster-require-full-coverage',
    'yes',
    '--cluster-allow-reads-when-down',
    'no',
    // A primary cut off from its replicas refuses writes instead of taking ones a failover would lose.
    '--min-replicas-to-write',
    '1',
    '--min-replicas-max-lag',
    '10',
    '--maxmemory-policy',
    'noeviction',
  ];
}

async function portIsFree(port: number): Promise<boolean> {
  const server = net.createServer();
  const listening = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => resolve(true));
  });
  if (listening) await new Promise((resolve) => server.close(resolve));
  return listening;
}

/** What a node's nodes.conf says of itself (its id, port and bus port), or undefined before its first start. */
export function recordedNode(dataDir: string): { id: string; port: number; busPort: number } | undefined {
  let text: string;
  try {
    text = readFileSync(join(dataDir, CONFIG_FILE), 'utf8');
  } catch {
    return undefined;
  }
  const myself = text.split('\n').find((line) => line.split(' ')[2]?.split(',').includes('myself'));
  const [id, address] = myself?.split(' ') ?? [];
  const ports = /:(\d+)@(\d+)/.exec(address ?? '');
  if (!id || !ports) return undefined;
  return { id, port: Number(ports[1]), busPort: Number(ports[2]) };
}

/**
 * Where each of `count` nodes runs: in `<dir>/redis-<n>`; a node that ran before keeps the ports
 * its nodes.conf records (its peers know it there); a new one takes `firstPort + n - 1` and that +
 * 10000 for its bus, or free ports (10000-29999) when `firstPort` is 0.
 */
export async function planClusterNodes(dir: string, count: number, firstPort: number): Promise<ClusterNodeSpec[]> {
  const taken = new Set<number>();
  // Below the kernel's ephemeral range (Linux 32768-60999, macOS 49152-65535): a port from there,
  // free while a node is down, can meanwhile become some connection's source port, and the node
  // could not start on it again.
  const free = async () => {
    for (;;) {
      const port = 10_000 + Math.floor(Math.random() * 20_000);
      if (!taken.has(port) && (await portIsFree(port))) return port;
    }
  };
  const nodes: ClusterNodeSpec[] = [];
  for (let n = 1; n <= count; n++) {
    const name = `redis-${n}`;
    const dataDir = join(dir, name);
    const recorded = recordedNode(dataDir);
    const port = recorded?.port ?? (firstPort === 0 ? await free() : firstPort + n - 1);
    taken.add(port);
    const busPort = recorded?.busPort ?? (firstPort === 0 || port + 10_000 > 65_535 ? await free() : port + 10_000);
    taken.add(busPort);
    nodes.push({ name, port, busPort, dataDir });
  }
  return nodes;
}

export interface ClusterNodeOptions {
  nodeTimeoutMs?: number;
  appendfsync?: 'always' | 'everysec';
  onOutput?: (line: string) => void;
}

/** Starts one node on its port and dir; resolves once it answers PING. */
export function startClusterNode(node: ClusterNodeSpec, options: ClusterNodeOptions = {}): Promise<RedisServer> {
  return startRedisServer({
    port: node.port,
    dataDir: node.dataDir,
    appendfsync: options.appendfsync ?? 'always',
    onOutput: options.onOutput,
    extraArgs: clusterNodeArgs(node.busPort, options.nodeTimeoutMs ?? DEFAULT_NODE_TIMEOUT_MS),
  });
}

export class ClusterFormingError extends Error {}

/**
 * Makes the started `nodes` one whole cluster and says how: `created` when no node knew a cluster
 * (`redis-cli --cluster create`), `rejoined` when they all came back from their nodes.conf. Some
 * knowing one and some not (a node's dir lost) is refused: joining a blank node to the rest is an
 * operator's decision, not a start-up's guess.
 */
export async function formCluster(
  nodes: ClusterNodeSpec[],
  shape: ClusterShape,
  wait: WaitOptions = {},
): Promise<'created' | 'rejoined'> {
  const timeoutMs = wait.timeoutMs ?? 30_000;
  for (const node of nodes) {
    await waitForPong(node.port, timeoutMs);
    // A port found free when planned may have been taken since by another process's Redis (two
    // clusters started at once): a PONG proves nothing, the dir the server runs in does.
    const dir = (await clusterCommand(node.port, ['CONFIG', 'GET', 'dir'])).split('\n')[1];
    if (dir !== realpathSync(node.dataDir)) {
      throw new ClusterFormingError(
        `port ${node.port} (${node.name}) answers from ${dir}, not from ${node.dataDir}: another Redis has the port`,
      );
    }
  }
  const blank: string[] = [];
  for (const node of nodes) {
    const info = await clusterCommand(node.port, ['CLUSTER', 'INFO']);
    const known = Number(/cluster_known_nodes:(\d+)/.exec(info)?.[1]);
    const assigned = Number(/cluster_slots_assigned:(\d+)/.exec(info)?.[1]);
    if (known === 1 && assigned === 0) blank.push(node.name);
  }
  let formed: 'created' | 'rejoined' = 'rejoined';
  if (blank.length === nodes.length) {
    const expected = shape.primaries * (1 + shape.replicasPerPrimary);
    if (nodes.length !== expected) {
      throw new ClusterFormingError(
        `${nodes.length} nodes cannot make ${shape.primaries} primaries × ${shape.replicasPerPrimary} replicas`,
      );
    }
    await run(
      'redis-cli',
      [
        '--cluster',
        'create',
        ...nodes.map((node) => `127.0.0.1:${node.port}`),
        '--cluster-replicas',
        String(shape.replicasPerPrimary),
        '--cluster-yes',
      ],
      { timeout: timeoutMs },
    );
    formed = 'created';
  } else if (blank.length > 0) {
    throw new ClusterFormingError(
      `${blank.join(', ')} know no cluster while the other nodes do (their nodes.conf is gone): add them back by hand (CLUSTER MEET, then CLUSTER REPLICATE), or remove every node's dir to start an empty cluster`,
    );
  }
  await waitForWholeCluster(
    nodes.map((node) => node.port),
    shape,
    { ...wait, timeoutMs },
  );
  return formed;
}

/**
 * Waits until the peers on `peerPorts` have given up on the dead node `id`: one of them flags it
 * `fail` and it serves no slot any more (a replica took its slots over). Resolves false when that
 * does not happen within `timeoutMs` (no replica could take over), for the caller to start it anyway.
 */
export async function waitUntilFailedOver(id: string, peerPorts: number[], wait: WaitOptions = {}): Promise<boolean> {
  const seenBy = async (port: number) => {
    const node = (await clusterTopology(port)).find((each) => each.id === id);
    return node?.flags.includes('fail') === true && node.slots.length === 0;
  };
  try {
    await waitFor(
      `the cluster to fail over node ${id}`,
      async () => {
        for (const port of peerPorts) if (await seenBy(port).catch(() => false)) return true;
        return false;
      },
      Boolean,
      { intervalMs: 100, ...wait },
    );
    return true;
  } catch (error) {
    if (wait.giveUp?.() !== undefined) throw error;
    return false;
  }
}
