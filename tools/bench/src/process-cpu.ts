/**
 * CPU time of the bench's processes from /proc (utime + stime of /proc/<pid>/stat), summed by kind
 * (Redis, the services, the load generator): which of them a run's two cores were spent on.
 */
import { readFileSync } from 'node:fs';

/** Cores used over a window, by kind: 1.0 is one core busy the whole time. */
export type CpuUse = Record<string, number>;

/** Clock ticks per second of /proc's times: 100 on every Linux this runs on (`getconf CLK_TCK`). */
const TICKS_PER_SECOND = 100;

/** CPU seconds each process has used so far, by kind; a process gone (or no /proc) counts nothing. */
export async function cpuTime(processes: Array<{ kind: string; pid: number }>): Promise<Map<string, number>> {
  const byKind = new Map<string, number>();
  for (const { kind, pid } of processes) {
    byKind.set(kind, (byKind.get(kind) ?? 0) + secondsOf(pid));
  }
  return byKind;
}

function secondsOf(pid: number): number {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return 0;
  }
  // The command name (field 2) may hold spaces: count fields from after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // utime and stime are fields 14 and 15 of the whole line, 12 and 13 from the state (field 3) on.
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** Cores used between two readings `seconds` apart, by kind. */
export function cpuUse(before: Map<string, number>, after: Map<string, number>, seconds: number): CpuUse {
  const use: CpuUse = {};
  for (const [kind, spent] of after) use[kind] = Math.max(0, spent - (before.get(kind) ?? 0)) / seconds;
  return use;
}
