/**
 * A Node program run as a child process, the one way every tool does it: TypeScript through tsx,
 * a bundle (.mjs) with Node alone; every line it prints kept and offered to the caller; waiting
 * for a line or a JSON log message with a deadline that gives up as soon as the process exits;
 * stopping with SIGTERM, then SIGKILL after a grace period.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { REPO_ROOT } from './repo-root.ts';
import { waitFor } from './wait-for.ts';

export interface NodeProcessOptions {
  /** Arguments after the entry file. */
  args?: string[];
  /** The child's environment: exactly this plus PATH, unless `inheritEnv` adds the caller's. */
  env?: Record<string, string>;
  inheritEnv?: boolean;
  /** Options for Node itself, before the entry file (e.g. --cpu-prof). */
  nodeOptions?: string[];
  /** Default: the repository's root, where tsx resolves. */
  cwd?: string;
  /** Its own process group, so a Ctrl-C meant for the caller does not reach it. */
  detached?: boolean;
  /** Called with every line printed on stdout or stderr. */
  onLine?: (line: string) => void;
  /** Lines kept in `lines` (the most recent); default 10,000. */
  keepLines?: number;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface NodeProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** The most recent lines printed, stdout and stderr interleaved as they arrived. */
  readonly lines: string[];
  readonly exited: Promise<Exit>;
  /** Null while it runs. */
  readonly exit: Exit | null;
  /** The first line (already printed or still to come) that `match` accepts. */
  waitForLine(what: string, match: (line: string) => boolean, timeoutMs?: number): Promise<string>;
  /** The first JSON log line whose `msg` matches, parsed. */
  logged(msg: string | RegExp, timeoutMs?: number): Promise<Record<string, unknown>>;
  /** The port from a service's `listening` log line. */
  port(timeoutMs?: number): Promise<number>;
  /** SIGTERM (or `signal`), SIGKILL after `graceMs`; resolves with how it exited. */
  stop(options?: { signal?: NodeJS.Signals; graceMs?: number }): Promise<Exit>;
}

/** How Node runs an entry file: TypeScript through tsx, JavaScript as it is. */
export function nodeArgs(entry: string, nodeOptions: string[] = []): string[] {
  return entry.endsWith('.ts') ? [...nodeOptions, '--import', 'tsx', entry] : [...nodeOptions, entry];
}

export function spawnNode(entry: string, options: NodeProcessOptions = {}): NodeProcess {
  const keep = options.keepLines ?? 10_000;
  const env = options.inheritEnv
    ? { ...process.env, ...options.env }
    : { PATH: process.env.PATH ?? '', ...options.env };
  const child = spawn(process.execPath, [...nodeArgs(entry, options.nodeOptions), ...(options.args ?? [])], {
    cwd: options.cwd ?? REPO_ROOT,
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached ?? false,
  });
  const lines: string[] = [];
  let exit: Exit | null = null;
  const exited = once(child, 'exit').then(([code, signal]) => {
    exit = { code, signal } as Exit;
    return exit;
  });
  // A failed spawn emits 'error' (and then 'exit'); without a listener it would throw.
  child.on('error', () => {});
  for (const stream of [child.stdout, child.stderr]) {
    createInterface({ input: stream }).on('line', (line) => {
      lines.push(line);
      if (lines.length > keep) lines.shift();
      options.onLine?.(line);
    });
  }

  const exitedEarly = () => (exit === null ? undefined : `the process exited (${describeExit(exit)})`);
  const lastOutput = () => lines.slice(-12).join('\n');

  const waitForLine = async (what: string, match: (line: string) => boolean, timeoutMs = 15_000) => {
    try {
      return (await waitFor(
        what,
        () => lines.find(match),
        (line) => line !== undefined,
        {
          timeoutMs,
          giveUp: exitedEarly,
        },
      )) as string;
    } catch (error) {
      throw new Error(`${entry}: ${(error as Error).message}\nits last output:\n${lastOutput()}`);
    }
  };

  const logged = async (msg: string | RegExp, timeoutMs?: number) => {
    const matches = (line: string) => {
      const entry = parseJsonLine(line);
      if (typeof entry?.msg !== 'string') return false;
      return typeof msg === 'string' ? entry.msg === msg : msg.test(entry.msg);
    };
    return parseJsonLine(await waitForLine(`a log line "${msg}"`, matches, timeoutMs)) as Record<string, unknown>;
  };

  return {
    child,
    pid: child.pid ?? -1,
    lines,
    exited,
    get exit() {
      return exit;
    },
    waitForLine,
    logged,
    port: async (timeoutMs) => Number((await logged('listening', timeoutMs)).port),
    async stop({ signal = 'SIGTERM', graceMs = 10_000 } = {}) {
      if (exit !== null) return exit;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      try {
        return await exited;
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

export function describeExit({ code, signal }: Exit): string {
  return signal ? `killed by ${signal}` : `exit code ${code}`;
}

function parseJsonLine(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    return JSON.parse(line) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}
