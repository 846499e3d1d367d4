import {
  type AccountsProjection,
  accountEvents,
  accountRegistered,
  startAccountsProjection,
  streamKey,
} from '@microbank/events';
import { createLogger, createMetrics, POSITION_HEADER } from '@microbank/service-runtime';
import { appendEvent } from '@microbank/streams';
import {
  assertBadRequestsRefused,
  freePort,
  type RedisServerContext,
  redisSuite,
  spawnNode,
  uniquePrefix,
} from '@microbank/testing';
import type { Redis } from 'ioredis';
import * as assert from 'uvu/assert';
import { createAccountSystemApp } from './app.ts';

type Context = RedisServerContext & { opened: AccountsProjection[] };

const accountSystem = redisSuite<{ opened: AccountsProjection[] }>('account-system', { extra: { opened: [] } });

accountSystem.after.each(async (ctx) => {
  for (const accounts of ctx.opened.splice(0)) await accounts.close();
});
const log = createLogger('account-system', 'silent');

const registered = (account: string) => accountRegistered({ account, url: `http://${account}`, instance: 'test' });

/** account-system's app on its own stream, as main.ts wires it. */
function openApp(ctx: Context, redisAt = ctx.redisServer.url, readWaitMaxMs = 2_000) {
  const stream = streamKey('accounts', uniquePrefix());
  const accounts = startAccountsProjection({ redisAt, log, name: 'account-system', stream });
  ctx.opened.push(accounts);
  const app = createAccountSystemApp({ log, metrics: createMetrics('account-system'), ...accounts, readWaitMaxMs });
  const append = (account: string) => appendEvent(accounts.redis as Redis, stream, accountEvents, registered(account));
  return { app, accounts, append, stream };
}

accountSystem('before it has caught up, reads and readiness answer 503 JSON', async (ctx) => {
  const { app } = openApp(ctx, `redis://127.0.0.1:${await freePort()}`);
  for (const path of ['/accounts', '/readyz']) {
    const response = await app.request(path);
    assert.is(response.status, 503, path);
    const body = (await response.json()) as { error: string; message: string };
    assert.is(body.error, 'unavailable');
    assert.match(body.message, /waiting for Redis/);
  }
});

accountSystem('GET /accounts lists each account once, in first-registration order, byte for byte', async (ctx) => {
  const { app, accounts, append } = openApp(ctx);
  await accounts.projection.whenReady();
  await append('john-account');
  await append('mary-account');
  const last = await append('john-account');
  const response = await app.request(`/accounts?position=${last}`);
  assert.is(response.status, 200);
  assert.is(response.headers.get('content-type'), 'application/json');
  assert.is(await response.text(), '{"accounts":["john-account","mary-account"]}');
});

accountSystem('a history written before start is replayed', async (ctx) => {
  const stream = streamKey('accounts', uniquePrefix());
  const writer = startAccountsProjection({ redisAt: ctx.redisServer.url, log, name: 'writer', stream });
  ctx.opened.push(writer);
  await writer.projection.whenReady();
  for (const name of ['john-account', 'mary-account', 'john-account']) {
    await appendEvent(writer.redis, stream, accountEvents, registered(name));
  }
  const accounts = startAccountsProjection({ redisAt: ctx.redisServer.url, log, name: 'account-system', stream });
  ctx.opened.push(accounts);
  const app = createAccountSystemApp({ log, metrics: createMetrics('a'), ...accounts, readWaitMaxMs: 2000 });
  await accounts.projection.whenReady();
  assert.is(await (await app.request('/accounts')).text(), '{"accounts":["john-account","mary-account"]}');
  assert.is((await app.request('/readyz')).status, 200);
});

accountSystem('read-your-writes: a read naming the position of an append sees it at once', async (ctx) => {
  const { app, accounts, append } = openApp(ctx);
  await accounts.projection.whenReady();
  for (let i = 0; i < 20; i++) {
    const position = await append(`account-${i}`);
    const response = await app.request(`/accounts?position=${position}`);
    const body = (await response.json()) as { accounts: string[] };
    assert.ok(body.accounts.includes(`account-${i}`), `account-${i} visible at ${position}`);
    assert.is(response.headers.get(POSITION_HEADER), position);
  }
});

accountSystem('a position the projection does not reach in time is a bounded 503', async (ctx) => {
  const { app, accounts } = openApp(ctx, undefined, 100);
  await accounts.projection.whenReady();
  const response = await app.request('/accounts?position=99999999999999-0');
  assert.is(response.status, 503);
  assert.match(
    ((await response.json()) as { message: string }).message,
    /not at position 99999999999999-0 within 100 ms/,
  );
});

accountSystem('bad requests on every route get a 4xx JSON error', async (ctx) => {
  const { app, accounts } = openApp(ctx);
  await accounts.projection.whenReady();
  await assertBadRequestsRefused(
    (path, init) => app.request(path, init),
    ['/accounts', '/healthz', '/readyz', '/metrics'],
  );
});

accountSystem('a position that is not a stream ID is a 400', async (ctx) => {
  const { app, accounts } = openApp(ctx);
  await accounts.projection.whenReady();
  for (const position of ['abc', '1-', '-1', '$', '*', '01-1', 'x'.repeat(5000), '1-0; DROP']) {
    const response = await app.request(`/accounts?position=${encodeURIComponent(position)}`);
    assert.is(response.status, 400, position);
    const body = (await response.json()) as { error: string; position: string };
    assert.is(body.error, 'bad_request');
    assert.ok(body.position.length <= 64);
  }
});

accountSystem('metrics show the projection: applied, skipped, position, ready', async (ctx) => {
  const { accounts, append, stream } = openApp(ctx);
  const { registerProjectionMetrics } = await import('@microbank/service-runtime');
  const metrics = createMetrics('account-system');
  registerProjectionMetrics(metrics, accounts.projection);
  await accounts.projection.whenReady();
  await accounts.redis.xadd(stream, '*', 'garbage', 'typed by hand');
  const last = await append('john-account');
  await accounts.projection.waitForPosition(last, 5_000);
  const text = await metrics.registry.metrics();
  assert.match(
    text,
    /microbank_projection_applied_entries_total\{projection="account-system",microbank_service="account-system"\} 1/,
  );
  assert.match(
    text,
    /microbank_projection_skipped_entries_total\{projection="account-system",microbank_service="account-system"\} 1/,
  );
  assert.match(text, /microbank_projection_ready\{projection="account-system",microbank_service="account-system"\} 1/);
  assert.match(
    text,
    /microbank_projection_lag_seconds\{projection="account-system",microbank_service="account-system"\} 0/,
  );
});

accountSystem('as a process: serves /accounts over a real socket, stops on SIGTERM with exit 0', async (ctx) => {
  const service = spawnNode('packages/account-system/src/main.ts', {
    env: { REDIS_URL: ctx.redisServer.url, PORT: '0' },
  });
  const port = await service.port();
  await service.logged('caught up; ready');
  const accounts = await fetch(`http://127.0.0.1:${port}/accounts`);
  assert.is(accounts.status, 200);
  assert.is(await accounts.text(), '{"accounts":[]}');
  service.child.kill('SIGTERM');
  assert.equal(await service.exited, { code: 0, signal: null });
  assert.ok(service.lines.some((line) => line.includes('"msg":"stopped"')));
});

accountSystem('as a process: bad configuration exits 1 naming the variable', async () => {
  const service = spawnNode('packages/account-system/src/main.ts', {
    env: {
      REDIS_URL: 'redis://127.0.0.1:1',
      PORT: '99999',
    },
  });
  assert.is((await service.exited).code, 1);
  assert.match(service.lines.join('\n'), /account-system: invalid configuration: PORT must be a port number/);
});

accountSystem.run();
