/** account-system's built bundle run as a real process, as Kubernetes runs it: `node main.mjs`. */
import http from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { describeExit, type NodeProcess, spawnNode } from '@microbank/processes';

/**
 * How often readiness is asked while the service replays. Each ask costs the service and this
 * machine's two cores some CPU, so it is asked at once when the service logs that it is ready,
 * and otherwise only this often: a figure is at most one ask late either way.
 */
const READY_POLL_MS = 25;

/** The bench's own key for signing snapshots: its Redis and everything in it are thrown away afterwards. */
const BENCH_SNAPSHOT_KEY = 'bench-snapshot-key-thrown-away-with-its-redis';

/**
 * Spawns the bundle and resolves once `/readyz` answers 200, with the ms that took from spawn.
 * The port comes from the service's `listening` log line (PORT=0).
 */
export async function startAccountSystem(
  bundle: string,
  redisUrl: string,
): Promise<{ service: NodeProcess; port: number; readyMs: number }> {
  const started = performance.now();
  const loggedReady = new AbortController();
  const service = spawnNode(bundle, {
    env: { REDIS_URL: redisUrl, PORT: '0', LOG_LEVEL: 'info', SNAPSHOT_KEY: BENCH_SNAPSHOT_KEY },
    onLine: (line) => {
      if (line.includes('"msg":"caught up; ready"')) loggedReady.abort();
    },
  });
  try {
    const port = await service.port(60_000);
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      while ((await status(port, '/readyz', agent)) !== 200) {
        if (service.exit) throw new Error(`account-system ${describeExit(service.exit)} before it was ready`);
        await sleep(READY_POLL_MS, undefined, { signal: loggedReady.signal }).catch(() => {});
      }
    } finally {
      agent.destroy();
    }
    return { service, port, readyMs: performance.now() - started };
  } catch (error) {
    await service.stop();
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
