/**
 * A uvu suite with a real Redis already wired: `redisSuite` starts a test Redis (and, given `connect`,
 * opens a connection to it and waits until it is ready) before the suite's tests, and closes the
 * connection and disposes the server after them. With `perTest`, every test gets a fresh server.
 *
 * @microbank/streams depends on this package (for its tests), so this package cannot import
 * connectRedis from there: the connection is made by the `connect` a suite passes, e.g.
 * `(url) => connectRedis(url, 'test:commands', silentLog)`, which keeps the failure behaviour the
 * event store relies on in one place. Waiting for ready and closing need only ioredis itself.
 */
import type { Redis } from 'ioredis';
import type { Test } from 'uvu';
import { startTestRedis, type TestRedis } from './test-redis.ts';
import { testSuite } from './test-suite.ts';

export interface RedisServerContext {
  redisServer: TestRedis;
}

export interface RedisContext extends RedisServerContext {
  redis: Redis;
}

export interface RedisSuiteOptions<Extra extends object> {
  /** Opens the suite's connection to the server's url; without it the context has only `redisServer`. */
  connect?: (url: string) => Redis;
  /** The rest of the context's starting state (e.g. `{ opened: [] }`). */
  extra?: Partial<Extra>;
  /** A fresh server for every test (before.each / after.each) instead of one for the suite. */
  perTest?: boolean;
}

type Extras = Record<never, never>;

/**
 * The server is started by the first `before` hook (so the suite's own hooks can use it) and
 * disposed by the last `after` hook, registered when the suite is run (so the suite's own
 * `after` hooks still have it).
 */
export function redisSuite<Extra extends object = Extras>(
  name: string,
  options: RedisSuiteOptions<Extra> & { connect: (url: string) => Redis },
): Test<RedisContext & Extra>;
export function redisSuite<Extra extends object = Extras>(
  name: string,
  options?: RedisSuiteOptions<Extra>,
): Test<RedisServerContext & Extra>;
export function redisSuite<Extra extends object = Extras>(
  name: string,
  { connect, extra, perTest = false }: RedisSuiteOptions<Extra> = {},
): Test<RedisContext & Extra> {
  const suite = testSuite<RedisContext & Extra>(name, { ...extra } as RedisContext & Extra);
  const before = perTest ? suite.before.each : suite.before;
  const after = perTest ? suite.after.each : suite.after;
  before(async (ctx) => {
    ctx.redisServer = await startTestRedis();
    if (!connect) return;
    ctx.redis = connect(ctx.redisServer.url);
    await untilReady(ctx.redis);
  });
  const run = suite.run;
  suite.run = () => {
    after(async (ctx) => {
      if (ctx.redis) await closeConnection(ctx.redis);
      await ctx.redisServer?.dispose();
    });
    run();
  };
  return suite;
}

function untilReady(redis: Redis): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve) => redis.once('ready', () => resolve()));
}

/** Politely (QUIT) when connected, at once otherwise. */
async function closeConnection(redis: Redis): Promise<void> {
  if (redis.status !== 'ready') return redis.disconnect();
  await redis.quit().catch(() => redis.disconnect());
}
