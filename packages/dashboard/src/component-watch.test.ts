/** The components' watch against a real Redis: what it records of Redis from its first look. */
import { connectRedis, silentLog } from '@microbank/streams';
import { redisSuite, waitFor } from '@microbank/testing';
import * as assert from 'uvu/assert';
import { type Transition, watchComponents } from './component-watch.ts';

const watch = redisSuite('component watch');

watch('on a connection just made, a Redis that is up is seen ready from the first look, never down', async (ctx) => {
  // As the dashboard starts it: the connection is made, and the watch started, in the same tick.
  const redis = connectRedis(ctx.redisServer.url, 'dashboard:watch', silentLog);
  const transitions: Transition[] = [];
  const watching = watchComponents({
    components: [],
    redis,
    log: silentLog,
    intervalMs: 50,
    onTransition: (transition) => transitions.push(transition),
    onChange: () => {},
  });
  try {
    const seen = () => transitions.filter((t) => t.component === 'redis').map((t) => [t.from, t.to]);
    await waitFor(
      'Redis seen',
      async () => seen(),
      (redisSeen) => redisSeen.length > 0,
    );
    // Several more looks: nothing changes.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal(seen(), [['unknown', 'ready']]);
  } finally {
    watching.stop();
    redis.disconnect();
  }
});

watch.run();
