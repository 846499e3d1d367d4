/**
 * A real Redis per test suite: free port, its own temporary data dir, removed afterwards. A
 * redis-server process, or with MICROBANK_TEST_REDIS=container a container started through
 * testcontainers (image MICROBANK_TEST_REDIS_IMAGE, default redis:7.0), with no fallback to the other.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RedisServer, startRedisContainer, startRedisServer } from '@microbank/redis-runner';

export interface TestRedis extends RedisServer {
  /** Stops the server and deletes its data dir. */
  dispose(): Promise<void>;
}

/** `port` defaults to a free one; give one to start Redis where a service already looks for it. */
export async function startTestRedis({ port = 0 }: { port?: number } = {}): Promise<TestRedis> {
  const dataDir = mkdtempSync(join(tmpdir(), 'microbank-redis-'));
  const options = { port, dataDir, appendfsync: 'always' as const };
  const server = await (process.env.MICROBANK_TEST_REDIS === 'container'
    ? startRedisContainer({ ...options, image: process.env.MICROBANK_TEST_REDIS_IMAGE })
    : startRedisServer(options)
  ).catch((error: unknown) => {
    rmSync(dataDir, { recursive: true, force: true });
    throw error;
  });
  return Object.assign(Object.create(server) as RedisServer, {
    async dispose() {
      await server.kill();
      rmSync(dataDir, { recursive: true, force: true });
    },
  }) as TestRedis;
}

/** A key prefix no other test uses, so tests share a server without touching each other's keys. */
export function uniquePrefix(label = 'test'): string {
  return `${label}-${randomBytes(4).toString('hex')}`;
}
