import { accountEvents, decodeEntry, streamKey } from '@microbank/events';
import { createLogger, createMetrics } from '@microbank/service-runtime';
import {
  assertBadRequestsRefused,
  freePort,
  readStream,
  spawnNode,
  startTestRedis,
  type TestRedis,
  testSuite,
  waitFor,
} from '@microbank/testing';
import * as assert from 'uvu/assert';
import { createAccountApp } from './app.ts';

const account = testSuite<{ redisServer?: TestRedis }>('account service', {});

account.after(async (ctx) => {
  await ctx.redisServer?.dispose();
});

account('GET /balance answers the opening balance', async () => {
  const app = createAccountApp({
    log: createLogger('john-account', 'silent'),
    metrics: createMetrics('john-account'),
    openingBalance: 100,
    readiness: () => ({ ready: true }),
  });
  const response = await app.request('/balance');
  assert.is(response.status, 200);
  assert.is(await response.text(), '{"balance":100}');
});

account('bad requests on every route get a 4xx JSON error', async () => {
  const app = createAccountApp({
    log: createLogger('john-account', 'silent'),
    metrics: createMetrics('john-account'),
    openingBalance: 100,
    readiness: () => ({ ready: true }),
  });
  await assertBadRequestsRefused(
    (path, init) => app.request(path, init),
    ['/balance', '/healthz', '/readyz', '/metrics'],
  );
});

account('started before Redis: not ready, retries, registers once Redis is up, then ready', async (ctx) => {
  const redisPort = await freePort();
  const service = spawnNode('packages/account/src/main.ts', {
    env: {
      REDIS_URL: `redis://127.0.0.1:${redisPort}`,
      PORT: '0',
      ACCOUNT_NAME: 'john-account',
      REGISTRATION_RETRY_CAP_MS: '300',
    },
  });
  try {
    const port = await service.port();
    const readyz = () => fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status);
    assert.is(await readyz(), 503);
    // Still alive and still not ready a while later: no crash loop.
    await service.logged('redis connection lost, reconnecting');
    assert.is(service.child.exitCode, null);
    assert.is(await readyz(), 503);

    ctx.redisServer = await startTestRedis({ port: redisPort });
    await waitFor('the account to become ready', readyz, (status) => status === 200, { timeoutMs: 10_000 });

    const entries = await readStream(ctx.redisServer.url, streamKey('accounts'));
    assert.is(entries.length, 1, 'registered exactly once');
    const decoded = decodeEntry(accountEvents, entries[0]?.[1] ?? []);
    assert.ok(decoded.ok);
    if (decoded.ok) {
      assert.is(decoded.event.data.account, 'john-account');
      assert.is(decoded.event.data.url, `http://127.0.0.1:${port}`);
    }
    const registered = await service.logged('registered');
    assert.is(registered.position, entries[0]?.[0]);
  } finally {
    service.child.kill('SIGTERM');
    assert.equal(await service.exited, { code: 0, signal: null });
  }
});

account('bad configuration stops the process at start, naming the variable', async () => {
  const cases: Array<[Record<string, string>, RegExp]> = [
    [{ PORT: '0', ACCOUNT_NAME: 'john-account' }, /REDIS_URL is required/],
    [{ REDIS_URL: 'localhost', PORT: '0', ACCOUNT_NAME: 'john-account' }, /REDIS_URL must look like/],
    [{ REDIS_URL: 'redis://127.0.0.1:1', ACCOUNT_NAME: 'john-account' }, /PORT is required/],
    [{ REDIS_URL: 'redis://127.0.0.1:1', PORT: '0', ACCOUNT_NAME: 'John Account' }, /ACCOUNT_NAME must be a DNS label/],
    [{ REDIS_URL: 'redis://127.0.0.1:1', PORT: '0', HOSTNAME: 'laptop' }, /ACCOUNT_NAME is required/],
  ];
  for (const [env, message] of cases) {
    const service = spawnNode('packages/account/src/main.ts', { env });
    const { code } = await service.exited;
    assert.is(code, 1, JSON.stringify(env));
    assert.match(service.lines.join('\n'), message);
    assert.not.match(service.lines.join('\n'), /\n\s+at /, 'no stack trace');
  }
});

account.run();
