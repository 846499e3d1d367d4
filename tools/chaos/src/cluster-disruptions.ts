/**
 * The monkey's faults on the stack's Redis Cluster: SIGKILL a shard's primary, SIGKILL one of its
 * replicas, or CLUSTER FAILOVER to a replica, aimed at the shard of the transfers stream or of an
 * account's ledger, in a seeded order. Each is timed (until a replica serves the slot, for a killed
 * primary) and followed by a wait, with a deadline, until the cluster is whole again: the killed
 * node started again by the stack and back in sync as a replica. The next fault never meets a
 * shard still short of a node, so none loses a primary and every replica at once (not promised).
 */
import { ledgerKey, transfersKey } from '@microbank/events';
import {
  type ClusterFault,
  injectClusterFault,
  type StackCluster,
  type StackPlan,
  slotOf,
} from '@microbank/local-stack';
import { waitFor } from '@microbank/processes';
import { clusterTopology, shardIn, waitForWholeCluster } from '@microbank/redis-runner';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';

export interface ClusterFaultCounts {
  primaryKills: number;
  failovers: number;
  replicaKills: number;
}

export const FAULT_OF: Record<keyof ClusterFaultCounts, ClusterFault> = {
  primaryKills: 'primary',
  failovers: 'failover',
  replicaKills: 'replica',
};

export interface ClusterFaultRecord {
  fault: ClusterFault;
  /** The node killed, or the replica promoted. */
  node: string;
  /** What it was aimed at: the transfers stream or a ledger, and its slot. */
  target: string;
  slot: number;
  atMs: number;
  /** A killed primary: from the SIGKILL until a replica served the slot; a failover: until it did. */
  failedOverAfterMs?: number;
  /** From the fault until the cluster was whole again (every node back, every replica in sync). */
  wholeAfterMs?: number;
}

/** The next fault, with the odds of what remains (like disruptionPlan), and what it aims at. */
export function clusterFaultPlan(seed: number, accounts: readonly string[]) {
  const rng = xoroshiro128plus((seed ^ 0x2545f491) | 0);
  // Half at the transfers stream (every request goes through its shard), half at a ledger's shard.
  const targets = [transfersKey(), ...accounts.map((account) => ledgerKey(account))];
  return {
    /** Whether a cluster fault comes next rather than one of `others` kills and pauses (by the odds of what remains). */
    comesNext(remaining: ClusterFaultCounts, others: number): boolean {
      const left = remaining.primaryKills + remaining.failovers + remaining.replicaKills;
      return left > 0 && uniformInt(rng, 1, left + Math.max(others, 0)) <= left;
    },
    next(remaining: ClusterFaultCounts): { fault: ClusterFault; target: string } {
      let pick = uniformInt(rng, 1, remaining.primaryKills + remaining.failovers + remaining.replicaKills);
      let kind: keyof ClusterFaultCounts | undefined;
      for (const each of Object.keys(FAULT_OF) as Array<keyof ClusterFaultCounts>) {
        pick -= remaining[each];
        if (pick <= 0) {
          kind = each;
          break;
        }
      }
      if (!kind) throw new Error('no cluster fault left to do');
      const target =
        uniformInt(rng, 0, 1) === 0 ? transfersKey() : (targets[uniformInt(rng, 0, targets.length - 1)] as string);
      return { fault: FAULT_OF[kind], target };
    },
  };
}

/** How long the cluster may take to be whole after a fault: failure detection, election, restart, sync. */
export const wholeDeadlineMs = (cluster: StackCluster) => 4 * cluster.nodeTimeoutMs + 20_000;

/** Waits until every node is up and sees the cluster whole, each replica in sync; false at the deadline. */
export async function untilWhole(cluster: StackCluster, timeoutMs = wholeDeadlineMs(cluster)): Promise<boolean> {
  const ports = cluster.nodes.map((node) => node.port);
  return waitForWholeCluster(ports, cluster, { timeoutMs, intervalMs: 100 }).then(
    () => true,
    () => false,
  );
}

/** The id of the primary serving `slot`, as the first node that answers sees it (skipping `besides`). */
async function primaryOf(cluster: StackCluster, slot: number, besides?: string): Promise<string | undefined> {
  for (const node of cluster.nodes) {
    if (node.name === besides) continue;
    try {
      const shard = shardIn(await clusterTopology(node.port), slot);
      if (shard) return shard.primary.id;
    } catch {
      // down or frozen: ask the next
    }
  }
  return undefined;
}

/** Injects one fault, times it, and waits until the cluster is whole again (within its deadline). */
export async function disruptCluster(
  plan: StackPlan,
  cluster: StackCluster,
  fault: ClusterFault,
  target: string,
  startedAt: number,
): Promise<{ record: ClusterFaultRecord; message: string; handle?: string }> {
  const { slot } = await slotOf(cluster, target);
  // The primary serving the target now: a killed one is failed over once another serves its slot.
  const before = await primaryOf(cluster, slot);
  const at = Date.now();
  const done = await injectClusterFault(plan, fault, target, { failoverTimeoutMs: wholeDeadlineMs(cluster) });
  const record: ClusterFaultRecord = { fault, node: done.node, target, slot: done.slot, atMs: at - startedAt };
  if (fault === 'failover') record.failedOverAfterMs = Date.now() - at;
  if (fault === 'primary') {
    await waitFor(
      `a replica to serve slot ${done.slot} after the SIGKILL of ${done.node}`,
      () => primaryOf(cluster, done.slot, done.node),
      (id) => id !== undefined && id !== before,
      { timeoutMs: wholeDeadlineMs(cluster), intervalMs: 50 },
    ).then(
      () => {
        record.failedOverAfterMs = Date.now() - at;
      },
      () => undefined,
    );
  }
  if (await untilWhole(cluster)) record.wholeAfterMs = Date.now() - at;
  return { record, message: done.message, ...(done.handle !== undefined && { handle: done.handle }) };
}
