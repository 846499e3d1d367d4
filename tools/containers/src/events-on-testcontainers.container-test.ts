/**
 * The events package's projection tests with their Redis from testcontainers: the harness's
 * MICROBANK_TEST_REDIS=container, on the engine's Redis image (the local stand-in where redis:7.0 is
 * absent). This is the path `pnpm start` and the tests take where no redis-server is installed, run
 * for real: a start, SIGKILLs and restarts on the same data dir, a restart on an emptied one.
 * Ryuk stays off unless asked for: its image cannot be pulled offline, and each test removes its container.
 */
import { REDIS_IMAGE } from '@microbank/redis-runner';
import { startTestRedis, testSuite } from '@microbank/testing';
import { Redis } from 'ioredis';
import * as assert from 'uvu/assert';
import { docker } from './docker.ts';
import { redisImage } from './images.ts';

const { image, note } = await redisImage(REDIS_IMAGE);
console.log(`events on testcontainers: ${note}`);
process.env.MICROBANK_TEST_REDIS = 'container';
process.env.MICROBANK_TEST_REDIS_IMAGE = image;
process.env.TESTCONTAINERS_RYUK_DISABLED ??= 'true';

const harness = testSuite('the test harness: Redis through testcontainers');

harness('startTestRedis gives a Redis container of that image, which keeps its data across a SIGKILL', async () => {
  const redis = await startTestRedis();
  const client = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  client.on('error', () => {}); // the kill below drops its connection; the next command reconnects
  try {
    const [, id] = /^container:(\w+)$/.exec(redis.handle) ?? [];
    assert.ok(id, `a container, not a process: ${redis.handle}`);
    assert.is(await docker(['inspect', '--format', '{{.Config.Image}}', id]), image);
    await client.set('harness:kept', 'yes');
    await redis.kill();
    await redis.restart();
    assert.is(await client.get('harness:kept'), 'yes');
  } finally {
    client.disconnect();
    await redis.dispose();
  }
});

harness.run();

// The suites of projection.test.ts, unchanged: every Redis they start is a container now.
await import('../../../packages/events/src/projection.test.ts');
