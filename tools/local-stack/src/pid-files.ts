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
const fileOf = (dataDir: string, component: string) => join(dirOf(dataDir), `${component}.pid`);

export function writePid(dataDir: string, component: string, record: PidRecord): void {
  mkdirSync(dirOf(dataDir), { recursive: true });
  writeFileSync(fileOf(dataDir, component), JSON.stringify(record));
}

export function readPid(dataDir: string, component: string): PidRecord | undefined {
  try {
    return JSON.parse(readFileSync(fileOf(dataDir, component), 'utf8')) as PidRecord;
  } catch {
    return undefined;
  }
}

/** Forgets the stack: its PID files and its plan. */
export function removeStackFiles(dataDir: string): void {
  rmSync(dirOf(dataDir), { recursive: true, force: true });
}
