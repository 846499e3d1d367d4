/**
 * `pnpm kill <component>`: SIGKILL one component of the running local stack, like the seed's
 * killPod.sh deletes a pod. The stack notices and starts it again.
 */
import { killComponent, NotRunning } from './kill-component.ts';
import { COMPONENTS, dataDir, isComponent } from './stack-plan.ts';

const component = process.argv[2] ?? '';
if (!isComponent(component)) {
  console.error(`usage: pnpm kill <component>   where <component> is one of: ${COMPONENTS.join(', ')}`);
  process.exit(2);
}
try {
  const handle = killComponent(dataDir(), component);
  console.log(
    `killed ${component} (${handle.startsWith('container:') ? handle : `pid ${handle}`}) with SIGKILL; the stack starts it again`,
  );
} catch (error) {
  if (!(error instanceof NotRunning)) throw error;
  console.error(error.message);
  process.exit(1);
}
