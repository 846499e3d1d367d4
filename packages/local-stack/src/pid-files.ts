/**
 * Where the stack writes each component's PID, so `pnpm kill <component>` can find it, the way
 * killPod.sh finds a pod by its label. A PID is checked against the process's command line
 * before it is signalled, so a stale file never kills a stranger.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface PidRecord {
  /** A PID, or `container:<id>` when Redis runs in Docker. */
  handle: string;
  /** A string the process's command line contains. */
  marker: string;
}

const dirOf = (dataDir: string) => join(dataDir, 'stack');

export function writePid(dataDir: string, component: string, record: PidRecord): void {
  mkdirSync(dirOf(dataDir), { recursive: true });
  writeFileSync(join(dirOf(dataDir), `${component}.pid`), JSON.stringify(record));
}

export function readPid(dataDir: string, component: string): PidRecord | undefined {
  try {
    return JSON.parse(readFileSync(join(dirOf(dataDir), `${component}.pid`), 'utf8')) as PidRecord;
  } catch {
    return undefined;
  }
}

export function removePids(dataDir: string): void {
  rmSync(dirOf(dataDir), { recursive: true, force: true });
}

/** True when `pid` is alive and, where /proc exists, its command line contains `marker`. */
export function isLiveProcess(pid: number, marker: string): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(marker);
  } catch {
    return true;
  }
}
