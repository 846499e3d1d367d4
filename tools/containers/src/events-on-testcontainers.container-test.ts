/**
 * The events package's projection tests with their Redis from testcontainers: the harness's
 * MICROBANK_TEST_REDIS=container, given to the test runner run on projection.test.ts in a child process
 * (a tool imports no test file), on the engine's Redis image (the local stand-in where redis:7.0 is
 * absent). This is the path `pnpm start` and the tests take where no redis-server is installed, run
 * for real: a start, SIGKILLs and restarts on the same data dir, a restart on an emptied one.
 * Ryuk stays off unless asked for: its image cannot be pulled offline, and each test removes its container.
 */
import { REDIS_IMAGE } from '@microbank/redis-runner';
import { spawnNode, startTestRedis, testSuite } from '@microbank/testing';
import { Redis } from 'ioredis';
import * as assert from 'uvu/assert';
import { docker } from './docker.ts';
import { redisImage } from './images.ts';

/** The file filter given to `pnpm test`: the suites this test runs with their Redis in containers. */
const PROJECTION_TESTS = '^packages/events/src/projection\\.test\\.ts$';

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

const projections = testSuite('the events package: projection.test.ts with its Redis in containers');

projections('pnpm test on projection.test.ts passes with MICROBANK_TEST_REDIS=container', async () => {
  // The test runner in a child process, with this process's environment (the container settings above).
  // Its output is kept, not echoed: its summary lines would be read as this run's own.
  const run = spawnNode('tools/testing/src/run-tests.ts', {
    args: [PROJECTION_TESTS],
    inheritEnv: true,
    keepLines: 200,
  });
  const { code, signal } = await run.exited;
  const output = run.lines.join('\n');
  const [, passed, failed] = /^(\d+) passed, (\d+) failed$/m.exec(output) ?? [];
  assert.ok(
    code === 0 && Number(passed) > 0 && failed === '0',
    `projection.test.ts on testcontainers exited with ${code ?? signal}; its last output:\n${run.lines.slice(-60).join('\n')}`,
  );
  console.log(`events on testcontainers: projection.test.ts, ${passed} passed`);
});

projections.run();
