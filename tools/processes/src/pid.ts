/** Processes known only by PID (a PID file's): is it still ours, and stopping it politely, then not. */
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** True when `pid` is alive and, where /proc exists, its command line contains `marker`. */
export function isLiveProcess(pid: number, marker: string): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
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

/**
 * SIGTERM, then SIGKILL once `graceMs` has passed; resolves when the process is gone. The marker is
 * checked first, so a PID reused by a stranger is never signalled.
 */
export async function stopPid(pid: number, marker: string, graceMs = 10_000): Promise<void> {
  if (!isLiveProcess(pid, marker)) return;
  process.kill(pid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (isLiveProcess(pid, marker)) {
    if (Date.now() >= deadline) process.kill(pid, 'SIGKILL');
    await sleep(25);
  }
}
