/**
 * Pauses one component of a running local stack and continues it, found through its PID file:
 * SIGSTOP and SIGCONT for a process, `docker pause` and `docker unpause` for Redis in a container.
 * A paused process holds its sockets and answers nothing, like a VM stalled or a process stuck in a
 * long GC: the faults a SIGKILL never shows (the others take over its work, then it wakes up).
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { isLiveProcess } from '@microbank/processes';
import { containerOf, signalComponent } from './kill-component.ts';
import { type PidRecord, readPid } from './pid-files.ts';

export interface PausedComponent extends PidRecord {
  component: string;
}

/** Pauses it and returns what to continue; throws NotRunning when nothing is there. */
export function pauseComponent(dataDir: string, component: string): PausedComponent {
  return { component, ...signalComponent(dataDir, component, 'SIGSTOP', 'pause') };
}

/**
 * Continues what pauseComponent paused. Synchronous, so it can run on the way out of a process.
 * Returns false when that process is gone (killed while it was paused): nothing to continue.
 */
export function continueComponent(paused: PausedComponent): boolean {
  const container = containerOf(paused.handle);
  if (container) {
    return spawnSync('docker', ['unpause', container], { stdio: 'ignore' }).status === 0;
  }
  const pid = Number(paused.handle);
  if (!isLiveProcess(pid, paused.marker)) return false;
  process.kill(pid, 'SIGCONT');
  return true;
}

/** True when the component's current process (or container) is paused: stopped, not dead. */
export function isComponentPaused(dataDir: string, component: string): boolean {
  const record = readPid(dataDir, component);
  if (!record) return false;
  const container = containerOf(record.handle);
  if (container) {
    const inspected = spawnSync('docker', ['inspect', '--format', '{{.State.Paused}}', container], {
      encoding: 'utf8',
    });
    return inspected.stdout.trim() === 'true';
  }
  const pid = Number(record.handle);
  return isLiveProcess(pid, record.marker) && processState(pid).startsWith('T');
}

/** The process's state letter (T: stopped), from /proc where there is one, else from ps. */
function processState(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name, in parentheses, may hold spaces: the state follows the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
  } catch {
    return spawnSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' }).stdout.trim();
  }
}
