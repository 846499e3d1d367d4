/**
 * `pnpm kill <component>`: SIGKILL one component of the running local stack, like the seed's
 * killPod.sh deletes a pod. The stack notices and starts it again.
 */
import { Redis } from 'ioredis';
import { recordKill } from './disruptions.ts';
import { killComponent, NotRunning } from './kill-component.ts';
import { componentsOf, readPlan, stackSettings } from './stack-plan.ts';

const { dataDir } = stackSettings();
const plan = readPlan(dataDir);
if (!plan) {
  console.error(`no stack has run on ${dataDir}: start one first with \`pnpm start\``);
  process.exit(1);
}
const components = componentsOf(plan);
const component = process.argv[2] ?? '';
if (!components.includes(component)) {
  console.error(`usage: pnpm kill <component>   where <component> is one of: ${components.join(', ')}`);
  process.exit(2);
}
try {
  const handle = killComponent(dataDir, component);
  if (component !== 'redis') {
    const redis = new Redis(plan.redisUrl, { lazyConnect: true, connectTimeout: 1_000, maxRetriesPerRequest: 0 });
    await redis.connect().then(
      () => recordKill(redis, component, 'pnpm kill', handle),
      () => undefined,
    );
    redis.disconnect();
  }
  console.log(
    `killed ${component} (${handle.startsWith('container:') ? handle : `pid ${handle}`}) with SIGKILL; the stack starts it again`,
  );
} catch (error) {
  if (!(error instanceof NotRunning)) throw error;
  console.error(error.message);
  process.exit(1);
}
