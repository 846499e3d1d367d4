/** A service's main run as a real process, for tests of start-up, config errors and signals. */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { waitFor } from './wait-for.ts';

export const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url));

export interface ServiceProcess {
  child: ChildProcess;
  /** Every line printed so far, stdout and stderr. */
  lines: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** The port from the service's "listening" log line. */
  port(): Promise<number>;
  /** Waits for a log line whose `msg` matches. */
  logged(msg: string | RegExp, timeoutMs?: number): Promise<Record<string, unknown>>;
}

/** Runs `main` (relative to the repo root) with exactly `env` plus PATH. */
export function spawnService(main: string, env: Record<string, string>): ServiceProcess {
  const child = spawn(process.execPath, ['--import', 'tsx', main], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  for (const stream of [child.stdout, child.stderr])
    createInterface({ input: stream }).on('line', (line) => lines.push(line));
  const exited = once(child, 'exit').then(([code, signal]) => ({ code, signal }));
  const logged = async (msg: string | RegExp, timeoutMs = 15_000) => {
    const matches = (entry: Record<string, unknown>) =>
      typeof entry.msg === 'string' && (typeof msg === 'string' ? entry.msg === msg : msg.test(entry.msg));
    try {
      return (await waitFor(
        `a log line "${msg}" from ${main}`,
        () => lines.map(parseLine).find((entry) => entry && matches(entry)),
        (entry) => entry !== undefined,
        { timeoutMs },
      )) as Record<string, unknown>;
    } catch (error) {
      throw new Error(`${(error as Error).message}\nits last output:\n${lines.slice(-8).join('\n')}`);
    }
  };
  return {
    child,
    lines,
    exited,
    logged,
    port: async () => Number((await logged('listening')).port),
  };
}

function parseLine(line: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}
