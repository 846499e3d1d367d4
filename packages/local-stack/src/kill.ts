/**
 * `pnpm kill <component>`: SIGKILL one component of the running local stack, like the seed's
 * killPod.sh deletes a pod. The stack notices and starts it again.
 */
import { execFileSync } from 'node:child_process';
import { isLiveProcess, readPid } from './pid-files.ts';
import { COMPONENTS, dataDir, isComponent } from './stack-plan.ts';

const component = process.argv[2] ?? '';
if (!isComponent(component)) {
  console.error(`usage: pnpm kill <component>   where <component> is one of: ${COMPONENTS.join(', ')}`);
  process.exit(2);
}
const record = readPid(dataDir(), component);
if (!record) {
  console.error(`no ${component} is running: start the stack first with \`pnpm start\``);
  process.exit(1);
}
if (record.handle.startsWith('container:')) {
  execFileSync('docker', ['kill', record.handle.slice('container:'.length)], { stdio: 'ignore' });
  console.log(`killed ${component} (${record.handle})`);
  process.exit(0);
}
const pid = Number(record.handle);
if (!isLiveProcess(pid, record.marker)) {
  console.error(`${component} (pid ${pid}) is not running: is the stack up? (\`pnpm start\`)`);
  process.exit(1);
}
process.kill(pid, 'SIGKILL');
console.log(`killed ${component} (pid ${pid}) with SIGKILL; the stack starts it again`);
