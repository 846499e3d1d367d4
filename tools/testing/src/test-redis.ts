/** A real redis-server per test suite: free port, its own temporary data dir, removed afterwards. */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RedisServer, startRedisServer } from '@microbank/redis-runner';

export interface TestRedis extends RedisServer {
  /** Stops the server and deletes its data dir. */
  dispose(): Promise<void>;
}

/** `port` defaults to a free one; give one to start Redis where a service already looks for it. */
export async function startTestRedis({ port = 0 }: { port?: number } = {}): Promise<TestRedis> {
  const dataDir = mkdtempSync(join(tmpdir(), 'microbank-redis-'));
  const server = await startRedisServer({ port, dataDir, appendfsync: 'always' });
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
