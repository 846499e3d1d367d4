/**
 * The stack's Redis Cluster (`pnpm start --cluster`): each node a supervised component, as a pod of
 * a StatefulSet, started again on its own port and dir when it dies; the cluster created on the
 * first start and rejoined from the nodes' nodes.conf on every later one.
 */
import {
  type ClusterNodeSpec,
  formCluster,
  type RedisServer,
  recordedNode,
  startClusterNode,
  waitUntilFailedOver,
} from '@microbank/redis-runner';
import type { StackCluster } from './stack-plan.ts';
import { type Runner, type Say, type Supervised, supervise } from './supervisor.ts';

/**
 * One node as a component. A node that died is started again only once its peers have failed it
 * over (or given up trying), as a pod whose restart outlasts cluster-node-timeout: a primary that came
 * straight back would keep its slots and no failover would ever happen here.
 */
export function clusterNodeRunner(node: ClusterNodeSpec, cluster: StackCluster, say: Say): Runner {
  let server: RedisServer | undefined;
  const peers = cluster.nodes.filter((other) => other !== node).map((other) => other.port);
  const start = () =>
    startClusterNode(node, { nodeTimeoutMs: cluster.nodeTimeoutMs, onOutput: (line) => say(node.name, line) });
  return {
    async launch(stopping) {
      if (server) {
        const id = recordedNode(node.dataDir)?.id;
        if (id) {
          // Failure detection takes the node timeout, the election up to a few seconds more.
          const timeoutMs = 3 * cluster.nodeTimeoutMs + 5_000;
          const giveUp = () => (stopping.aborted ? 'the stack is stopping' : undefined);
          const failedOver = await waitUntilFailedOver(id, peers, { timeoutMs, giveUp });
          say(
            node.name,
            failedOver
              ? 'its peers have failed it over; starting it again (it rejoins as a replica)'
              : `not failed over within ${timeoutMs} ms (no replica could take over?); starting it again`,
          );
        }
        await server.restart();
      } else {
        server = await start();
      }
      const current = server;
      return {
        handle: current.handle,
        marker: 'redis-server',
        exited: current.exited.then(() => 'killed' as const),
        terminate: () => current.stop(),
      };
    },
  };
}

export interface StackClusterRedis {
  nodes: Supervised[];
  /** `created` on the first start on a data dir, `rejoined` on every later one. */
  formed: 'created' | 'rejoined';
  /** SIGTERM to every node at once (each fsyncs its AOF), and wait. */
  stop(): Promise<void>;
}

/** Starts and supervises every node, then makes them one whole cluster; stops them again if that fails. */
export async function startClusterRedis(
  cluster: StackCluster,
  dataDir: string,
  say: Say,
  { cancelled = () => false }: { cancelled?: () => boolean } = {},
): Promise<StackClusterRedis> {
  const nodes = cluster.nodes.map((node) => supervise(node.name, clusterNodeRunner(node, cluster, say), dataDir, say));
  const stop = async () => {
    await Promise.all(nodes.map((node) => node.stop()));
  };
  try {
    const giveUp = () => (cancelled() ? 'the stack is stopping' : undefined);
    const formed = await formCluster(cluster.nodes, cluster, { timeoutMs: 60_000, giveUp });
    return { nodes, formed, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
