/**
 * Faults aimed at one shard of the stack's Redis Cluster, the one serving a slot (by default the
 * transfers stream's): SIGKILL its primary or a replica (the stack starts the node again once its
 * peers have failed it over), or a manual `CLUSTER FAILOVER` to a replica, the safe, planned kind.
 */
import { transfersKey } from '@microbank/events';
import { waitFor } from '@microbank/processes';
import {
  type ClusterNodeSpec,
  type ClusterNodeView,
  clusterCommand,
  clusterTopology,
  describeSlots,
  shardIn,
} from '@microbank/redis-runner';
import { killComponent } from './kill-component.ts';
import type { StackCluster, StackPlan } from './stack-plan.ts';

export type ClusterFault = 'primary' | 'replica' | 'failover';
export const CLUSTER_FAULTS: readonly ClusterFault[] = ['primary', 'replica', 'failover'];

export interface ClusterFaultDone {
  fault: ClusterFault;
  /** The node killed, or the replica promoted. */
  node: string;
  /** The killed process's handle (kills only). */
  handle?: string;
  /** The slot aimed at, and the key it was named by, if any. */
  slot: number;
  key?: string;
  /** The slots of the shard, as `0-5460`. */
  slots: string;
  /** What happened, in a line for the operator. */
  message: string;
}

/** A slot number as given, or a key's slot; by default the transfers stream's. */
export async function slotOf(cluster: StackCluster, target = transfersKey()): Promise<{ slot: number; key?: string }> {
  if (/^\d+$/.test(target)) {
    const slot = Number(target);
    if (slot > 16_383) throw new Error(`a slot is 0-16383 (got ${target})`);
    return { slot };
  }
  const answer = await anyNode(cluster, (port) => clusterCommand(port, ['CLUSTER', 'KEYSLOT', target], 1_000));
  return { slot: Number(answer), key: target };
}

/** Runs `ask` on the first node that answers (some may be down: that is the point of this module). */
async function anyNode<T>(cluster: StackCluster, ask: (port: number) => Promise<T>): Promise<T> {
  let last: unknown;
  for (const node of cluster.nodes) {
    try {
      return await ask(node.port);
    } catch (error) {
      last = error;
    }
  }
  throw new Error(`no node of the cluster answered (last: ${last instanceof Error ? last.message : String(last)})`);
}

/** The shard serving `slot`, as the first node that knows a primary for it sees it. */
async function shardServing(cluster: StackCluster, slot: number) {
  return anyNode(cluster, async (port) => {
    const shard = shardIn(await clusterTopology(port), slot);
    if (!shard) throw new Error(`the node on ${port} knows no primary for slot ${slot}`);
    return shard;
  });
}

/**
 * The shard serving `slot`, with `synced` set when its primary answers and sees itself serve the
 * slot and one of its replicas answers with its replication link to that primary up and in sync.
 */
async function settledShard(cluster: StackCluster, slot: number) {
  const { primary, replicas } = await shardServing(cluster, slot);
  let synced: ClusterNodeView | undefined;
  const itself = shardIn(await clusterTopology(primary.port), slot);
  if (itself?.primary.id === primary.id) {
    for (const replica of replicas.filter((each) => !suspected(each))) {
      const info = await clusterCommand(replica.port, ['INFO', 'replication'], 1_000).catch(() => '');
      if (
        info.includes(`master_port:${primary.port}`) &&
        /master_link_status:up/.test(info) &&
        /master_sync_in_progress:0/.test(info)
      ) {
        synced = replica;
        break;
      }
    }
  }
  return { primary, replicas, synced };
}

/** Redis abandons a manual failover after 5 s; this waits a little longer before asking again. */
const MANUAL_FAILOVER_GIVES_UP_MS = 6_000;

/** Flagged failing (`fail?`) or failed (`fail`) by the node that was asked. */
const suspected = (node: ClusterNodeView) => node.flags.some((flag) => flag.startsWith('fail'));

export async function injectClusterFault(
  plan: StackPlan,
  fault: ClusterFault,
  target?: string,
  { failoverTimeoutMs = 30_000 }: { failoverTimeoutMs?: number } = {},
): Promise<ClusterFaultDone> {
  const cluster = plan.redisCluster;
  if (!cluster) throw new Error('the stack runs one Redis, not a cluster: start it with `pnpm start --cluster`');
  const { slot, key } = await slotOf(cluster, target);
  // Right after a fault the shard may be mid-failover (its primary dead but not yet suspected by
  // every node, its replicas not yet following a new one): wait until the nodes themselves say it
  // is settled, as a fault on a settled shard is the one whose outcome this says.
  const { primary, replicas, synced } = await waitFor(
    `the shard of slot ${slot} to have a primary and an in-sync replica in reach`,
    () => settledShard(cluster, slot),
    (shard) => shard.synced !== undefined,
    { timeoutMs: 3 * cluster.nodeTimeoutMs + 5_000, intervalMs: 100 },
  );
  const specOf = (view: ClusterNodeView): ClusterNodeSpec => {
    const spec = cluster.nodes.find((node) => node.port === view.port);
    if (!spec) throw new Error(`the node on port ${view.port} is not one of the stack's`);
    return spec;
  };
  const slots = describeSlots(primary.slots);
  const aimed = `slot ${slot}${key ? ` (${key})` : ''}`;
  const primaryName = specOf(primary).name;
  const live = replicas.filter((replica) => !suspected(replica));
  const names = (views: ClusterNodeView[]) => views.map((view) => specOf(view).name).join(', ') || 'none';

  if (fault === 'primary') {
    const handle = killComponent(plan.dataDir, primaryName);
    return {
      fault,
      node: primaryName,
      handle,
      slot,
      key,
      slots,
      message: `killed ${primaryName} (pid ${handle}, port ${primary.port}) with SIGKILL: the primary of slots ${slots}, ${aimed}; its replicas (${names(live)}) take over after cluster-node-timeout (${cluster.nodeTimeoutMs} ms), then the stack starts ${primaryName} again and it rejoins as a replica`,
    };
  }

  // The replica that is in sync: a manual failover waits for the replica to catch up with the primary.
  const replica = synced as ClusterNodeView;
  const replicaName = specOf(replica).name;
  if (fault === 'replica') {
    const handle = killComponent(plan.dataDir, replicaName);
    return {
      fault,
      node: replicaName,
      handle,
      slot,
      key,
      slots,
      message: `killed ${replicaName} (pid ${handle}, port ${replica.port}) with SIGKILL: a replica of ${primaryName} (slots ${slots}, ${aimed}); the stack starts it again once its peers flag it failed (after cluster-node-timeout, ${cluster.nodeTimeoutMs} ms)`,
    };
  }

  // Manual failover: the primary stops taking writes, the replica catches up with it, then takes
  // its slots over; no acknowledged write is lost. Redis gives up a manual failover that has not
  // won its election within 5 s (CLUSTER_MF_TIMEOUT), silently. Right after another failover of the
  // shard that happens: a primary refuses to vote about a primary for twice the node timeout after
  // it voted about it, and one that still sees this replica under the killed primary votes about
  // that one (seen in CI: `pnpm kill failover` right after `pnpm kill primary`). Then it is asked
  // again, as an operator would, until failoverTimeoutMs.
  const startedAt = Date.now();
  let attempts = 0;
  for (;;) {
    attempts++;
    await clusterCommand(replica.port, ['CLUSTER', 'FAILOVER'], 2_000);
    const left = failoverTimeoutMs - (Date.now() - startedAt);
    const served = await waitFor(
      `${replicaName} to serve slot ${slot} after CLUSTER FAILOVER`,
      async () => (await shardServing(cluster, slot)).primary.id,
      (id) => id === replica.id,
      { timeoutMs: Math.min(MANUAL_FAILOVER_GIVES_UP_MS, left), intervalMs: 50 },
    ).then(
      () => true,
      (error: Error) => {
        if (left <= MANUAL_FAILOVER_GIVES_UP_MS) {
          throw new Error(`${error.message} (CLUSTER FAILOVER sent ${attempts} times)`);
        }
        return false;
      },
    );
    if (served) break;
  }
  return {
    fault,
    node: replicaName,
    slot,
    key,
    slots,
    message: `${replicaName} (port ${replica.port}) took over slots ${slots} (${aimed}) from ${primaryName} with CLUSTER FAILOVER in ${Date.now() - startedAt} ms${attempts > 1 ? ` (asked ${attempts} times)` : ''}; ${primaryName} becomes its replica`,
  };
}
