/**
 * The Redis Cluster's nodes as the dashboard shows them: `CLUSTER NODES` read from whichever node
 * answers, parsed, and what changed between two looks (a replica taking over a primary's slots, a
 * node going down or coming back) for the timeline.
 */
import { once } from 'node:events';
import { parseClusterNodes, withDeadline } from '@microbank/streams';
import type { Cluster } from 'ioredis';
import type { RedisNodeView } from './sections.ts';

/** Every slot a cluster has: all of them must be served by a primary that is up. */
export const CLUSTER_SLOTS = 16_384;

/** The nodes `CLUSTER NODES` lists (`text`, parsed by @microbank/streams), as the dashboard shows them. */
export function nodeViews(text: string): RedisNodeView[] {
  const nodes = parseClusterNodes(text);
  const addressOf = new Map(nodes.map(({ id, address }) => [id, address]));
  return nodes.map(({ id, address, flags, primaryId, slots }) => ({
    id,
    address,
    role: flags.includes('master') ? 'primary' : 'replica',
    follows: primaryId === undefined ? undefined : (addressOf.get(primaryId) ?? primaryId),
    slots,
    state: flags.includes('fail') ? 'fail' : flags.includes('fail?') ? 'failing' : 'connected',
  }));
}

/** `0-5460 10923` for the ranges a primary serves. */
export function describeSlots(slots: ReadonlyArray<readonly [number, number]>): string {
  return slots.map(([from, to]) => (from === to ? String(from) : `${from}-${to}`)).join(' ');
}

/** How many slots no primary that is up serves: 0 for a cluster that answers for every key. */
export function slotsWithoutPrimary(nodes: readonly RedisNodeView[]): number {
  const served = nodes
    .filter((node) => node.role === 'primary' && node.state === 'connected')
    .flatMap((node) => node.slots)
    .reduce((sum, [from, to]) => sum + (to - from + 1), 0);
  return Math.max(0, CLUSTER_SLOTS - served);
}

/**
 * `CLUSTER NODES` from the first node that answers, `preferred` first (the one that answered last:
 * nodes' views differ for a moment during a failover, and reading one node keeps the timeline from
 * flickering between them). Each node gets `timeoutMs`; a node that is down rejects at once (a
 * cluster client does not reconnect to a lost node, and drops it once the slots say it is gone).
 */
export async function readClusterNodes(
  cluster: Cluster,
  preferred: string | undefined,
  timeoutMs: number,
): Promise<{ nodes: RedisNodeView[]; via: string }> {
  // A new client learns its nodes once connected: the dashboard's first look waits for that.
  if (cluster.nodes('all').length === 0) await once(cluster, 'ready', { signal: AbortSignal.timeout(timeoutMs) });
  const candidates = cluster
    .nodes('all')
    .map((node) => ({ node, address: `${node.options.host}:${node.options.port}` }))
    .sort((a, b) => Number(b.address === preferred) - Number(a.address === preferred));
  let lastError: unknown = new Error('the cluster client knows no node yet');
  for (const { node, address } of candidates) {
    try {
      const text = await withDeadline(node.call('CLUSTER', 'NODES'), timeoutMs, `CLUSTER NODES on ${address}`);
      return { nodes: nodeViews(String(text)), via: address };
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

/** What changed in the cluster between two looks, as the timeline shows it. */
export type ClusterChange =
  | { what: 'failover'; node: string; slots: string; replaced: string | undefined }
  | { what: 'down' | 'back'; node: string };

/**
 * A replica that became a primary serving slots is a failover (of the primary it followed); a node
 * that stopped being connected (failing or fail) went down, and one connected again came back.
 */
export function clusterChanges(before: readonly RedisNodeView[], after: readonly RedisNodeView[]): ClusterChange[] {
  const changes: ClusterChange[] = [];
  for (const node of after) {
    const was = before.find((each) => each.id === node.id);
    if (!was) continue;
    if (was.state === 'connected' && node.state !== 'connected') changes.push({ what: 'down', node: node.address });
    if (was.state !== 'connected' && node.state === 'connected') changes.push({ what: 'back', node: node.address });
    if (was.role === 'replica' && node.role === 'primary' && node.slots.length > 0) {
      changes.push({ what: 'failover', node: node.address, slots: describeSlots(node.slots), replaced: was.follows });
    }
  }
  return changes;
}
