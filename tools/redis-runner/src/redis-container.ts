/**
 * The fallback when no redis-server binary is installed: Redis in a container via testcontainers,
 * on the same fixed port and data dir. Only used where a Docker engine answers.
 */
import { mkdirSync } from 'node:fs';
import { freePort, type RedisServer, type RedisServerOptions, redisServerArgs, waitForPong } from './redis-server.ts';

const IMAGE = 'redis:7.0';

/** True when testcontainers can reach a container runtime. */
export async function dockerAnswers(): Promise<boolean> {
  try {
    const { getContainerRuntimeClient } = await import('testcontainers');
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}

export async function startRedisContainer(options: RedisServerOptions): Promise<RedisServer> {
  const { GenericContainer } = await import('testcontainers');
  const port = options.port || (await freePort());
  const { dataDir } = options;
  mkdirSync(dataDir, { recursive: true });
  const container = new GenericContainer(IMAGE)
    .withExposedPorts({ container: 6379, host: port })
    .withBindMounts([{ source: dataDir, target: '/data' }])
    // Inside the container Redis must listen beyond its own loopback for the port mapping to work.
    .withCommand([
      'redis-server',
      ...redisServerArgs(6379, '/data', options.appendfsync ?? 'always').map((arg) =>
        arg === '127.0.0.1' ? '0.0.0.0' : arg,
      ),
      '--protected-mode',
      'no',
    ]);
  let started = await container.start();
  let exited = watchLiveness(port);
  await waitForPong(port, 30_000);
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dataDir,
    get handle() {
      return `container:${started.getId()}`;
    },
    get exited() {
      return exited;
    },
    async kill() {
      await started.stop({ timeout: 0 });
      await exited;
    },
    async restart() {
      await started.stop({ timeout: 0 }).catch(() => {});
      started = await container.start();
      await waitForPong(port, 30_000);
      exited = watchLiveness(port);
    },
    async stop() {
      await started.stop({ timeout: 10_000 });
    },
  };
}

/** A container gives no exit event here; three failed PINGs in a row count as an exit. */
function watchLiveness(port: number): Promise<void> {
  return new Promise((resolve) => {
    let failures = 0;
    const timer = setInterval(() => {
      waitForPong(port, 500).then(
        () => {
          failures = 0;
        },
        () => {
          failures++;
          if (failures >= 3) {
            clearInterval(timer);
            resolve();
          }
        },
      );
    }, 1000);
    timer.unref();
  });
}
