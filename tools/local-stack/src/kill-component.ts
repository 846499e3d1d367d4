/** Kills one component of a running local stack with SIGKILL, found through its PID file. */
import { execFileSync } from 'node:child_process';
import { isLiveProcess } from '@microbank/processes';
import { readPid } from './pid-files.ts';

export class NotRunning extends Error {}

/** Returns the handle it killed (a PID, or `container:<id>`); throws NotRunning when nothing is there. */
export function killComponent(dataDir: string, component: string): string {
  const record = readPid(dataDir, component);
  if (!record) throw new NotRunning(`no ${component} is running: start the stack first with \`pnpm start\``);
  if (record.handle.startsWith('container:')) {
    execFileSync('docker', ['kill', record.handle.slice('container:'.length)], { stdio: 'ignore' });
    return record.handle;
  }
  const pid = Number(record.handle);
  if (!isLiveProcess(pid, record.marker)) {
    throw new NotRunning(`${component} (pid ${pid}) is not running: is the stack up? (\`pnpm start\`)`);
  }
  process.kill(pid, 'SIGKILL');
  return record.handle;
}
