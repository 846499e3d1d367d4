import { randomUUID } from 'node:crypto';
import { accountEvents, streamKey } from '@microbank/events';
import { credit, issueSupply, startLedgerProjection } from '@microbank/ledger';
import { createLogger, createMetrics } from '@microbank/service-runtime';
import { decodeEntry, silentLog } from '@microbank/streams';
import {
  assertBadRequestsRefused,
  portForLater,
  readStream,
  spawnNode,
  startTestRedis,
  type TestRedis,
  testSuite,
  uniquePrefix,
  waitFor,
} from '@microbank/testing';
import { Redis } from 'ioredis';
import * as assert from 'uvu/assert';
import { createAccountApp } from './app.ts';

const account = testSuite<{ redisServer?: TestRedis }>('account service', {});

account.after(async (ctx) => {
  await ctx.redisServer?.dispose();
});

/** The account's app over its real ledger projection, on a test Redis; the bank issued its ledger 100. */
async function accountApp(redisServer: TestRedis) {
  const prefix = uniquePrefix();
  const redis = new Redis(redisServer.url);
  await issueSupply(redis, { issuance: 'opening:john-account', account: 'john-account', amount: 100 }, prefix);
  const ledger = startLedgerProjection({
    redisAt: redisServer.url,
    account: 'john-account',
    log: silentLog,
    snapshots: false,
    prefix,
  });
  await ledger.projection.whenReady();
  const app = createAccountApp({
    log: createLogger('john-account', 'silent'),
    metrics: createMetrics('john-account'),
    ...ledger,
    readiness: () => ({ ready: true }),
    readWaitMaxMs: 200,
  });
  return {
    app,
    redis,
    prefix,
    ledger,
    close: async () => {
      redis.disconnect();
      await ledger.close();
    },
  };
}

account('GET /balance answers the ledger`s balance, and waits for a position it is given', async () => {
  const redisServer = await startTestRedis();
  const { app, redis, prefix, close } = await accountApp(redisServer);
  try {
    const response = await app.request('/balance');
    assert.is(response.status, 200);
    assert.is(await response.text(), '{"balance":100}');
    const credited = await credit(
      redis,
      { transfer: randomUUID(), from: 'mary-account', to: 'john-account', amount: 5 },
      '1-1',
      prefix,
    );
    if (credited.outcome.kind !== 'credited') throw new Error('not credited');
    const read = await app.request(`/balance?position=${credited.outcome.position}`);
    assert.is(await read.text(), '{"balance":105}');
    assert.is(read.headers.get('x-microbank-position'), credited.outcome.position);
    assert.is((await app.request('/balance?position=99999999999999-0')).status, 503);
    assert.is((await app.request('/balance?position=soon')).status, 400);
  } finally {
    await close();
    await redisServer.dispose();
  }
});

account('bad requests on every route get a 4xx JSON error', async () => {
  const redisServer = await startTestRedis();
  const { app, close } = await accountApp(redisServer);
  try {
    await assertBadRequestsRefused(
      (path, init) => app.request(path, init),
      ['/balance', '/healthz', '/readyz', '/metrics'],
    );
  } finally {
    await close();
    await redisServer.dispose();
  }
});

account('started before Redis: not ready, retries, registers once Redis is up, then ready', async (ctx) => {
  const redisPort = await portForLater();
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
