/**
 * The presence keeper against a real Redis: present while it runs, other instances at the same
 * key told once each, gone at once when it leaves.
 */
import { type RedisContext, redisSuite, uniquePrefix, waitFor } from '@microbank/testing';
import * as assert from 'uvu/assert';
import { silentLog } from './log.ts';
import { type LiveInstance, livePresence } from './presence.ts';
import { keepPresence } from './presence-keeper.ts';
import { connectRedis } from './redis-connection.ts';

const keeper = redisSuite('presence keeper', { connect: (url) => connectRedis(url, 'test:commands', silentLog) });

const instancesAt = async (ctx: RedisContext, key: string) =>
  (await livePresence(ctx.redis, key)).map(({ instance, url }) => [instance, url]);

keeper('present while kept, others told once each, gone once it leaves', async (ctx) => {
  const key = `${uniquePrefix()}:presence`;
  const stopping = [new AbortController(), new AbortController()];
  const others: LiveInstance[] = [];
  const first = keepPresence({
    redis: ctx.redis,
    key,
    instance: 'first',
    url: 'http://first',
    ttlMs: 300,
    signal: (stopping[0] as AbortController).signal,
    onOther: (other) => others.push(other),
  });
  await waitFor(
    'the first instance',
    () => instancesAt(ctx, key),
    (live) => live.length === 1,
  );
  const second = keepPresence({
    redis: ctx.redis,
    key,
    instance: 'second',
    url: '-',
    ttlMs: 300,
    signal: (stopping[1] as AbortController).signal,
  });
  await waitFor(
    'the first to see the second',
    async () => first.counts.liveInstances,
    (live) => live === 2,
  );
  // Refreshed past its time to live: still there, and the other told of once.
  await new Promise((resolve) => setTimeout(resolve, 700));
  assert.equal((await instancesAt(ctx, key)).sort(), [
    ['first', 'http://first'],
    ['second', '-'],
  ]);
  assert.equal(
    others.map(({ instance, url }) => [instance, url]),
    [['second', '-']],
  );
  assert.equal([first.counts.othersSeen, second.counts.othersSeen], [1, 0]);
  stopping[1]?.abort();
  await second.leave();
  assert.equal(await instancesAt(ctx, key), [['first', 'http://first']]);
  stopping[0]?.abort();
  await first.leave();
  assert.equal(await instancesAt(ctx, key), []);
});

keeper('kept on a connection just made: present at once, not a third of the TTL later', async (ctx) => {
  const key = `${uniquePrefix()}:presence`;
  const stopping = new AbortController();
  // As the services start it: the connection is made, and the keeper started, in the same tick.
  const redis = connectRedis(ctx.redisServer.url, 'test:fresh', silentLog);
  const kept = keepPresence({ redis, key, instance: 'fresh', url: '-', ttlMs: 6_000, signal: stopping.signal });
  try {
    // The next refresh would come 2 s after a refused first one.
    await waitFor(
      'the fresh instance',
      () => instancesAt(ctx, key),
      (live) => live.length === 1,
      {
        timeoutMs: 1_500,
      },
    );
  } finally {
    stopping.abort();
    await kept.leave();
    redis.disconnect();
  }
});

keeper.run();
