/**
 * A stack killed with SIGKILL leaves its components running (they run in their own process
 * groups, so that Ctrl-C reaches the stack alone). The next `pnpm start` stops them first.
 */
import { isLiveProcess, stopPid } from '@microbank/processes';
import { readPid, writePid } from './pid-files.ts';
import { readPlan, redisComponentsOf } from './stack-plan.ts';

const STACK_MARKER = 'local-stack/src/main.ts';

/** The PID of a stack that still runs on this data dir, if any. */
export function runningStack(dataDir: string): number | undefined {
  const record = readPid(dataDir, 'stack');
  const pid = Number(record?.handle);
  return record && pid !== process.pid && isLiveProcess(pid, record.marker) ? pid : undefined;
}

export function recordStack(dataDir: string): void {
  writePid(dataDir, 'stack', { handle: String(process.pid), marker: STACK_MARKER });
}

/** Stops (SIGTERM, then SIGKILL after 10 s) what an earlier stack left running: services first, Redis (each node) last. */
export async function stopLeftovers(dataDir: string, say: (line: string) => void): Promise<void> {
  const plan = readPlan(dataDir);
  if (!plan) return;
  const services = plan.services.map((spec) => spec.name);
  for (const component of [...services, ...redisComponentsOf(plan)]) {
    const record = readPid(dataDir, component);
    const pid = Number(record?.handle);
    if (!record || !isLiveProcess(pid, record.marker)) continue;
    say(`${component} (pid ${pid}) is left over from a stack that did not stop; stopping it`);
    await stopPid(pid, record.marker);
  }
}
