/**
 * Keeps a component running, as a ReplicaSet would: when it dies it is started again. A process
 * killed by a signal comes back at once; one that crashes by itself backs off (0.2 s doubling to
 * 5 s, reset after a good run), like Kubernetes' CrashLoopBackOff.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { spawnNode } from '@microbank/processes';
import { writePid } from './pid-files.ts';
import type { ServiceSpec } from './stack-plan.ts';

export interface Running {
  handle: string;
  marker: string;
  /** Resolves with how it ended: `crashed` when it exited by itself with an error. */
  exited: Promise<'crashed' | 'killed' | 'exited'>;
  /** Asks it to stop (SIGTERM) and waits. */
  terminate(): Promise<void>;
}

export interface Runner {
  /** Starts it; `stopping` aborts once the stack stops, for a launch that waits before it starts. */
  launch(stopping: AbortSignal): Promise<Running>;
}

export type Say = (component: string, line: string) => void;

export interface Supervised {
  readonly restarts: number;
  stop(): Promise<void>;
}

const FIRST_BACKOFF_MS = 200;
const MAX_BACKOFF_MS = 5_000;
const GOOD_RUN_MS = 10_000;

export function supervise(name: string, runner: Runner, dataDir: string, say: Say): Supervised {
  let stopped = false;
  let current: Running | undefined;
  let restarts = 0;
  let backoff = FIRST_BACKOFF_MS;
  const stopping = new AbortController();

  const loop = (async () => {
    while (!stopped) {
      const startedAt = Date.now();
      try {
        current = await runner.launch(stopping.signal);
      } catch (error) {
        if (stopped) return;
        say(
          name,
          `could not start: ${error instanceof Error ? error.message : String(error)}; retrying in ${backoff} ms`,
        );
        await sleep(backoff);
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
        continue;
      }
      // Stopped while it was starting: nobody else ends what just started.
      if (stopped) {
        await current.terminate();
        return;
      }
      writePid(dataDir, name, { handle: current.handle, marker: current.marker });
      const how = await current.exited;
      if (stopped) return;
      restarts++;
      if (Date.now() - startedAt > GOOD_RUN_MS) backoff = FIRST_BACKOFF_MS;
      if (how === 'crashed') {
        say(name, `crashed; starting it again in ${backoff} ms (restart ${restarts})`);
        await sleep(backoff);
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      } else {
        say(name, `${how}; starting it again (restart ${restarts})`);
      }
    }
  })();

  return {
    get restarts() {
      return restarts;
    },
    async stop() {
      stopped = true;
      stopping.abort();
      await current?.terminate();
      await loop;
    },
  };
}

/** The file a service's process runs: its bundle, or its TypeScript sources (through tsx). */
export function entryOf(spec: ServiceSpec, fromSources: boolean): string {
  return fromSources ? `packages/${spec.program}/src/main.ts` : `packages/${spec.program}/dist/main.mjs`;
}

/** Runs a service's program under Node (with `secrets` added to its environment), its output prefixed with its name. */
export function serviceRunner(
  spec: ServiceSpec,
  secrets: Record<string, string>,
  fromSources: boolean,
  say: Say,
): Runner {
  const entry = entryOf(spec, fromSources);
  return {
    async launch() {
      // The trailing name is ignored by the service; it lets `pnpm kill` recognise the process.
      const child = spawnNode(entry, {
        args: [spec.name],
        env: { ...spec.env, ...secrets },
        inheritEnv: true,
        // Its own process group: Ctrl-C reaches the stack only, which stops services before Redis.
        detached: true,
        keepLines: 0,
        onLine: (line) => say(spec.name, line),
      });
      const exited = child.exited.then(({ code, signal }) => {
        if (signal) return 'killed' as const;
        return code === 0 ? ('exited' as const) : ('crashed' as const);
      });
      return {
        handle: String(child.pid),
        marker: `${entry}\u0000${spec.name}`,
        exited,
        terminate: async () => {
          await child.stop();
        },
      };
    },
  };
}
