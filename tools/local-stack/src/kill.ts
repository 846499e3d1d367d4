/**
 * `pnpm kill <component>`: SIGKILL one component of the running local stack, like the seed's
 * killPod.sh deletes a pod. The stack notices and starts it again. On a cluster (`pnpm start
 * --cluster`), also `pnpm kill primary|replica|failover [slot or key]`: SIGKILL the primary or a
 * replica of the shard serving that slot (by default the transfers stream's), or promote one of its
 * replicas with CLUSTER FAILOVER.
 */
import { Cluster, Redis } from 'ioredis';
import { CLUSTER_FAULTS, type ClusterFault, injectClusterFault } from './cluster-faults.ts';
import { recordKill } from './disruptions.ts';
import { killComponent } from './kill-component.ts';
import { componentsOf, readPlan, redisComponentsOf, type StackPlan, stackSettings } from './stack-plan.ts';

const { dataDir } = stackSettings();
const plan = readPlan(dataDir);
if (!plan) {
  console.error(`no stack has run on ${dataDir}: start one first with \`pnpm start\``);
  process.exit(1);
}
const components = componentsOf(plan);
const [component = '', target] = process.argv.slice(2);
const fault = CLUSTER_FAULTS.find((each) => each === component);
if (!components.includes(component) && !(plan.redisCluster && fault)) {
  const faults = plan.redisCluster
    ? `\n       pnpm kill primary|replica|failover [slot or key, default: the transfers stream's]`
    : '';
  console.error(`usage: pnpm kill <component>   where <component> is one of: ${components.join(', ')}${faults}`);
  process.exit(2);
}

/** Tells the dashboard's timeline, best effort: Redis may be what was just killed, so it gets 2 s at most. */
async function tell(plan: StackPlan, killed: string, handle: string): Promise<void> {
  const seeds = plan.redisCluster?.nodes.map(({ port }) => ({ host: '127.0.0.1', port }));
  const redis = seeds
    ? new Cluster(seeds, { redisOptions: { connectTimeout: 1_000 }, clusterRetryStrategy: () => null })
    : new Redis(plan.redisUrl, { lazyConnect: true, connectTimeout: 1_000, maxRetriesPerRequest: 0 });
  redis.on('error', () => {});
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    recordKill(redis, killed, 'pnpm kill', handle).catch(() => undefined),
    new Promise((resolve) => {
      timer = setTimeout(resolve, 2_000);
    }),
  ]);
  clearTimeout(timer);
  redis.disconnect();
}

try {
  if (fault && plan.redisCluster) {
    const done = await injectClusterFault(plan, fault as ClusterFault, target);
    if (done.handle) await tell(plan, done.node, done.handle);
    console.log(done.message);
  } else {
    const handle = killComponent(dataDir, component);
    if (!redisComponentsOf(plan).includes(component) || plan.redisCluster) await tell(plan, component, handle);
    console.log(
      `killed ${component} (${handle.startsWith('container:') ? handle : `pid ${handle}`}) with SIGKILL; the stack starts it again`,
    );
  }
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}
