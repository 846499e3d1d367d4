/**
 * A process timed from spawn to its readiness answering 200, as Kubernetes sees a pod become
 * ready: account-system's built bundle (`node main.mjs`), or the bare Node process that is the
 * floor under any restart, spawned and polled the same way.
 */
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { describeExit, type NodeProcess, spawnNode } from '@microbank/processes';

/**
 * How often readiness is asked while the service replays. Each ask costs the service and this
 * machine's two cores some CPU, so it is asked at once when the service logs that it is ready,
 * and otherwise only this often: a figure is at most one ask late either way.
 */
const READY_POLL_MS = 25;

/** The bench's own key for signing snapshots: its Redis and everything in it are thrown away afterwards. */
export const BENCH_SNAPSHOT_KEY = 'bench-snapshot-key-thrown-away-with-its-redis';

export const BARE_SERVER = fileURLToPath(new URL('./bare-server.mjs', import.meta.url));

/**
 * Node flags for every service of the bank the bench starts (space-separated), e.g.
 * `--perf-basic-prof` to name their JIT code in `perf record`: the services do not inherit the
 * bench's own NODE_OPTIONS. The bare process never gets them: it is the floor they are held to.
 */
export const SERVICE_NODE_OPTIONS = process.env.BENCH_SERVICE_NODE_OPTIONS?.split(' ').filter(Boolean) ?? [];

export interface ReadyProcess {
  process: NodeProcess;
  port: number;
  /** ms from spawn to the first 200 from /readyz. */
  readyMs: number;
}

/** account-system's bundle on `redisUrl`, once ready. */
export function startAccountSystem(
  bundle: string,
  redisUrl: string,
  nodeOptions: string[] = SERVICE_NODE_OPTIONS,
): Promise<ReadyProcess> {
  return startUntilReady(bundle, {
    env: { REDIS_URL: redisUrl, PORT: '0', LOG_LEVEL: 'info', SNAPSHOT_KEY: BENCH_SNAPSHOT_KEY },
    nodeOptions,
    readyLine: (line) => line.includes('"msg":"caught up; ready"'),
  });
}

/** The bare Node process (bare-server.mjs), once it answers. */
export function startBareProcess(): Promise<ReadyProcess> {
  return startUntilReady(BARE_SERVER, { env: { BODY: '{"status":"ready"}' } });
}

/**
 * Spawns `entry` and resolves once `/readyz` answers 200, with the ms that took from spawn. The
 * port comes from the process's `listening` log line (PORT=0); a `readyLine` cuts a poll's wait short.
 */
async function startUntilReady(
  entry: string,
  options: { env: Record<string, string>; nodeOptions?: string[]; readyLine?: (line: string) => boolean },
): Promise<ReadyProcess> {
  const started = performance.now();
  const loggedReady = new AbortController();
  const child = spawnNode(entry, {
    env: options.env,
    nodeOptions: options.nodeOptions,
    onLine: (line) => {
      if (options.readyLine?.(line)) loggedReady.abort();
    },
  });
  try {
    const port = await child.port(60_000);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      while ((await status(port, '/readyz', agent)) !== 200) {
        if (child.exit) throw new Error(`${entry} ${describeExit(child.exit)} before it was ready`);
        await sleep(READY_POLL_MS, undefined, { signal: loggedReady.signal }).catch(() => {});
      }
    } finally {
      agent.destroy();
    }
    return { process: child, port, readyMs: performance.now() - started };
  } catch (error) {
    await child.stop();
    throw error;
  }
}

function status(port: number, path: string, agent: http.Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: '127.0.0.1', port, path, agent }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
    });
    request.on('error', reject);
  });
}
