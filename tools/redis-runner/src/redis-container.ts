/**
 * The fallback when no redis-server binary is installed: Redis in a container via testcontainers,
 * on the same fixed port and data dir. Only used where a Docker engine answers.
 */
import { mkdirSync } from 'node:fs';
import type { StartedTestContainer } from 'testcontainers';
import {
  freePort,
  launched,
  type RedisServer,
  type RedisServerOptions,
  redisServerArgs,
  waitForPong,
} from './redis-server.ts';

/** The image when none is asked for. */
export const REDIS_IMAGE = 'redis:7.0';

export interface RedisContainerOptions extends RedisServerOptions {
  /** Default: REDIS_IMAGE. Any image with redis-server on its PATH. */
  image?: string;
}

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

export async function startRedisContainer(options: RedisContainerOptions): Promise<RedisServer> {
  const { GenericContainer, getContainerRuntimeClient } = await import('testcontainers');
  const client = await getContainerRuntimeClient();
  const port = options.port || (await freePort());
  const { dataDir } = options;
  mkdirSync(dataDir, { recursive: true });
  const container = new GenericContainer(options.image ?? REDIS_IMAGE)
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

  let started: StartedTestContainer;
  let exited: Promise<void>;
  const launch = async () => {
    started = await container.start();
    // The engine says when the container exits, whatever ended it.
    exited = client.container
      .getById(started.getId())
      .wait()
      .then(() => {});
    await waitForPong(port, 30_000);
  };
  // SIGKILL, as for a process: no shutdown, no final fsync. Then the container is removed.
  const kill = async () => {
    await client.container
      .getById(started.getId())
      .kill({ signal: 'SIGKILL' })
      .catch(() => {});
    await exited;
    await started.stop({ remove: true });
  };

  const stop = async () => {
    await started.stop({ timeout: 10_000, remove: true });
  };

  return launched({
    port,
    dataDir,
    launch,
    kill,
    stop,
    handle: () => `container:${started.getId()}`,
    exited: () => exited,
  });
}
