/** Kills one component of a running local stack with SIGKILL, found through its PID file. */
import { execFileSync } from 'node:child_process';
import { isLiveProcess } from '@microbank/processes';
import { type PidRecord, readPid } from './pid-files.ts';

export class NotRunning extends Error {}

/** Returns the handle it killed (a PID, or `container:<id>`); throws NotRunning when nothing is there. */
export function killComponent(dataDir: string, component: string): string {
  return signalComponent(dataDir, component, 'SIGKILL', 'kill').handle;
}

/** A container's ID out of a PID file's handle, or undefined for a process. */
export const containerOf = (handle: string) =>
  handle.startsWith('container:') ? handle.slice('container:'.length) : undefined;

/**
 * Sends `signal` to a component's process (or `docker <dockerVerb>` to its container), found
 * through its PID file; returns that record. Throws NotRunning when nothing is there.
 */
export function signalComponent(
  dataDir: string,
  component: string,
  signal: NodeJS.Signals,
  dockerVerb: string,
): PidRecord {
  const record = readPid(dataDir, component);
  if (!record) throw new NotRunning(`no ${component} is running: start the stack first with \`pnpm start\``);
  const container = containerOf(record.handle);
  if (container) {
    execFileSync('docker', [dockerVerb, container], { stdio: 'ignore' });
    return record;
  }
  const pid = Number(record.handle);
  if (!isLiveProcess(pid, record.marker)) {
    throw new NotRunning(`${component} (pid ${pid}) is not running: is the stack up? (\`pnpm start\`)`);
  }
  process.kill(pid, signal);
  return record;
}
