/**
 * The bench's own Redis, started as the test harness starts one (free port, temporary data dir),
 * with one logical database per history so that every service process reads the stream under
 * its usual key, `microbank:accounts`.
 */
import { startTestRedis, type TestRedis } from '@microbank/testing';
import { Redis } from 'ioredis';

export interface BenchRedis {
  server: TestRedis;
  version: string;
  /** `redis://127.0.0.1:<port>/<db>` */
  url(db: number): string;
  /** A plain client on `db`, closed by dispose(). */
  client(db: number): Redis;
  dispose(): Promise<void>;
}

export async function startBenchRedis(): Promise<BenchRedis> {
  const server = await startTestRedis();
  const clients: Redis[] = [];
  const client = (db: number) => {
    const redis = new Redis(server.url, { db, lazyConnect: false });
    clients.push(redis);
    return redis;
  };
  const admin = client(0);
  // The fills write gigabytes: an AOF would add disk writes and background rewrites competing for
  // the two cores while figures are taken. Nothing here needs to survive the bench.
  await admin.config('SET', 'appendonly', 'no');
  const info = await admin.info('server');
  return {
    server,
    version: /redis_version:(\S+)/.exec(info)?.[1] ?? 'unknown',
    url: (db) => `${server.url}/${db}`,
    client,
    async dispose() {
      for (const redis of clients) redis.disconnect();
      await server.dispose();
    },
  };
}
