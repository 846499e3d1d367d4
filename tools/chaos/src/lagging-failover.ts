/**
 * A failover forced while the replicas lag, on the shard of the transfers stream: the fault replica
 * confirmation exists for. Its replicas are frozen (SIGSTOP) and cut off (`CLIENT KILL TYPE replica`
 * on the primary: a frozen replica would otherwise find the writes in its socket buffer on SIGCONT),
 * so what the primary takes from then on reaches no replica. The primary is told to take writes
 * without replicas (`min-replicas-to-write 0`): this stands for the window min-replicas-max-lag
 * (10 s) leaves a primary cut off by a network partition before it refuses writes, longer than a
 * failover takes, which one machine cannot make without a network to cut. Once `whileLagging` has
 * seen what it waits for, the primary is SIGKILLed, the replicas continued, and one of them, lacking
 * every write of the window, is promoted. The stack starts the old primary again as a replica.
 */
import { transfersKey } from '@microbank/events';
import {
  continueComponent,
  isComponentPaused,
  killComponent,
  type PausedComponent,
  pauseComponent,
  type StackPlan,
  slotOf,
} from '@microbank/local-stack';
import { waitFor } from '@microbank/processes';
import { clusterCommand, clusterTopology, shardIn } from '@microbank/redis-runner';
import { untilWhole, wholeDeadlineMs } from './cluster-disruptions.ts';

export interface LaggingFailover {
  primary: string;
  replicas: string[];
  /** The replica now serving the transfers stream. */
  promoted: string;
  /** From the SIGKILL until the promoted replica served the slot. */
  failedOverAfterMs: number;
}

export async function failOverLagging(
  plan: StackPlan,
  /** Resolves once the window has seen what the caller waits for (e.g. a request acknowledged). */
  whileLagging: () => Promise<void>,
  say: (line: string) => void = () => {},
): Promise<LaggingFailover> {
  const cluster = plan.redisCluster;
  if (!cluster) throw new Error('a lagging failover needs a stack on a Redis Cluster');
  const nameOf = (port: number) => cluster.nodes.find((node) => node.port === port)?.name ?? String(port);
  const { slot } = await slotOf(cluster, transfersKey());
  const shard = shardIn(await clusterTopology(cluster.nodes[0]?.port ?? 0), slot);
  if (!shard) throw new Error(`no primary serves slot ${slot}`);
  const primary = nameOf(shard.primary.port);
  const replicas = shard.replicas.map((replica) => nameOf(replica.port));
  if (replicas.length === 0) throw new Error(`${primary} has no replica to promote`);

  const paused: PausedComponent[] = [];
  let killed = false;
  try {
    for (const replica of replicas) paused.push(pauseComponent(plan.dataDir, replica));
    await waitFor('the replicas to be frozen', () => replicas.every((each) => isComponentPaused(plan.dataDir, each)));
    await clusterCommand(shard.primary.port, ['CONFIG', 'SET', 'min-replicas-to-write', '0']);
    await clusterCommand(shard.primary.port, ['CLIENT', 'KILL', 'TYPE', 'replica']);
    say(`froze ${replicas.join(', ')} and cut them off ${primary} (slot ${slot}, the transfers stream)`);
    await whileLagging();
    killComponent(plan.dataDir, primary);
    killed = true;
  } finally {
    // Whatever happened, nothing stays frozen; a primary not killed takes its replicas again.
    for (const each of paused) continueComponent(each);
    if (!killed) {
      await clusterCommand(shard.primary.port, ['CONFIG', 'SET', 'min-replicas-to-write', '1']).catch(() => undefined);
    }
  }
  const killedAt = Date.now();
  say(`killed ${primary} with SIGKILL and continued ${replicas.join(', ')}: one of them, lagging, takes over`);
  const promotedPort = await waitFor(
    `a replica of ${primary} to serve slot ${slot}`,
    async () => {
      for (const node of cluster.nodes) {
        if (node.name === primary) continue;
        const now = shardIn(await clusterTopology(node.port).catch(() => []), slot);
        if (now && now.primary.id !== shard.primary.id) return now.primary.port;
      }
      return undefined;
    },
    (port) => port !== undefined,
    { timeoutMs: wholeDeadlineMs(cluster), intervalMs: 50 },
  );
  const failedOverAfterMs = Date.now() - killedAt;
  const promoted = nameOf(promotedPort ?? 0);
  say(`${promoted} serves the transfers stream ${failedOverAfterMs} ms after the SIGKILL`);
  if (!(await untilWhole(cluster))) throw new Error('the cluster was not whole again after the lagging failover');
  return { primary, replicas, promoted, failedOverAfterMs };
}
