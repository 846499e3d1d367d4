/**
 * The transfer API against a real Redis: every kind of bad input gets a 4xx JSON body and records
 * nothing; each idempotency rule holds; statuses read back as the saga settles them.
 */
import { randomUUID } from 'node:crypto';
import {
  type AccountsProjection,
  accountEvents,
  appendEvent,
  connectRedis,
  silentLog,
  startAccountsProjection,
  streamKey,
  transferKeysKey,
  transfersKey,
  untilReady,
} from '@microbank/events';
import { openLedger } from '@microbank/ledger';
import { createLogger, createMetrics, MAX_BODY_BYTES } from '@microbank/service-runtime';
import { startTestRedis, type TestRedis, testSuite, uniquePrefix } from '@microbank/testing';
import type { Hono } from 'hono';
import * as assert from 'uvu/assert';
import { createTransferApp } from './app.ts';
import { runSaga } from './saga.ts';
import { transferStatus } from './transfer-log.ts';

interface Context {
  redisServer: TestRedis;
  accounts: AccountsProjection;
  app: Hono;
  prefix: string;
}

const api = testSuite<Context>('transfer API', {} as Context);
const log = createLogger('transfer', 'silent');

api.before(async (ctx) => {
  ctx.redisServer = await startTestRedis();
  ctx.prefix = uniquePrefix();
  const stream = streamKey('accounts', ctx.prefix);
  ctx.accounts = startAccountsProjection({ redisUrl: ctx.redisServer.url, log, name: 'transfer', stream });
  await ctx.accounts.projection.whenReady();
  let last = '0-0';
  for (const account of ['john-account', 'mary-account']) {
    await openLedger(ctx.accounts.redis, account, 100, ctx.prefix);
    last = await appendEvent(ctx.accounts.redis, stream, accountEvents, {
      type: 'AccountRegistered',
      data: { account, url: 'http://127.0.0.1:1', instance: 't', registeredAt: new Date().toISOString() },
    });
  }
  await ctx.accounts.projection.waitForPosition(last, 5_000);
  ctx.app = createTransferApp({
    log,
    metrics: createMetrics('transfer'),
    ...ctx.accounts,
    prefix: ctx.prefix,
  });
});

api.after(async (ctx) => {
  await ctx.accounts.close();
  await ctx.redisServer.dispose();
});

const good = { from: 'john-account', to: 'mary-account', amount: 10 };

function post(ctx: Context, body: unknown, headers: Record<string, string> = {}) {
  return ctx.app.request('/transfers', {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID(), ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** Everything that records a transfer: its stream's length and its keys. */
async function recorded(ctx: Context) {
  const redis = ctx.accounts.redis;
  return [await redis.xlen(transfersKey(ctx.prefix)), await redis.hlen(transferKeysKey(ctx.prefix))];
}

async function assertRefused(response: Response, status: number, pattern: RegExp, what: string) {
  assert.is(response.status, status, what);
  assert.match(response.headers.get('content-type') ?? '', /application\/json/, `${what}: JSON`);
  const body = (await response.json()) as { error: string; message: string };
  assert.type(body.error, 'string');
  assert.match(JSON.stringify(body), pattern, what);
}

api('a transfer is accepted with 202, its id and a Location; then pending until settled', async (ctx) => {
  const response = await post(ctx, good);
  assert.is(response.status, 202);
  const body = (await response.json()) as { transfer: string; status: string };
  assert.is(body.status, 'pending');
  assert.is(response.headers.get('location'), `/transfers/${body.transfer}`);
  const status = await ctx.app.request(`/transfers/${body.transfer}`);
  assert.is(status.status, 200);
  const pending = (await status.json()) as { status: string; from: string; amount: number };
  assert.equal([pending.status, pending.from, pending.amount], ['pending', 'john-account', 10]);
  const stored = await transferStatus(ctx.accounts.redis, body.transfer, ctx.prefix);
  if (!stored) throw new Error('no status stored');
  await runSaga(ctx.accounts.redis, stored, ctx.prefix);
  const done = (await (await ctx.app.request(`/transfers/${body.transfer}`)).json()) as {
    status: string;
    debit: { account: string; position: string };
    credit: { account: string; position: string };
  };
  assert.is(done.status, 'completed');
  assert.is(done.debit.account, 'john-account');
  assert.is(done.credit.account, 'mary-account');
});

api('every bad input gets a 4xx JSON body and records nothing', async (ctx) => {
  const before = await recorded(ctx);
  const cases: Array<[string, () => Response | Promise<Response>, number, RegExp]> = [
    ['a missing field', () => post(ctx, { from: 'john-account', to: 'mary-account' }), 422, /amount/],
    ['an extra field', () => post(ctx, { ...good, memo: 'hi' }), 422, /unknown field\(s\): memo/],
    ['amount 0', () => post(ctx, { ...good, amount: 0 }), 422, /amount/],
    ['a negative amount', () => post(ctx, { ...good, amount: -5 }), 422, /amount/],
    ['a fractional amount', () => post(ctx, { ...good, amount: 1.5 }), 422, /whole number/],
    ['an amount as a string', () => post(ctx, { ...good, amount: '10' }), 422, /amount/],
    ['an absurd amount', () => post(ctx, { ...good, amount: 1e15 }), 422, /amount/],
    ['an unknown account', () => post(ctx, { ...good, to: 'eve-account' }), 422, /no account named eve-account/],
    ['an invalid name', () => post(ctx, { ...good, from: 'John' }), 422, /DNS label/],
    ['from = to', () => post(ctx, { ...good, to: 'john-account' }), 422, /another account/],
    ['bad JSON', () => post(ctx, '{"from":'), 400, /not JSON/],
    ['a JSON array', () => post(ctx, '[]'), 422, /invalid/],
    ['no content type', () => post(ctx, good, { 'content-type': '' }), 415, /Content-Type/],
    ['text/plain', () => post(ctx, good, { 'content-type': 'text/plain' }), 415, /Content-Type/],
    ['an oversized body', () => post(ctx, { ...good, pad: 'x'.repeat(MAX_BODY_BYTES) }), 413, /payload_too_large/],
    [
      'no Idempotency-Key',
      () =>
        ctx.app.request('/transfers', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify(good),
        }),
      400,
      /Idempotency-Key header is required/,
    ],
    [
      'a malformed Idempotency-Key',
      () => post(ctx, good, { 'idempotency-key': 'has spaces in it' }),
      400,
      /Idempotency-Key/,
    ],
    [
      'an overlong Idempotency-Key',
      () => post(ctx, good, { 'idempotency-key': 'k'.repeat(256) }),
      400,
      /Idempotency-Key/,
    ],
    ['PUT', () => ctx.app.request('/transfers', { method: 'PUT' }), 405, /use POST/],
    ['GET on the collection', () => ctx.app.request('/transfers'), 405, /use POST/],
    ['an unknown transfer', () => ctx.app.request(`/transfers/${randomUUID()}`), 404, /no transfer/],
    ['a transfer id that is no UUID', () => ctx.app.request('/transfers/..%2f..%2fetc'), 404, /not_found/],
  ];
  for (const [what, send, status, pattern] of cases) await assertRefused(await send(), status, pattern, what);
  assert.equal(await recorded(ctx), before, 'nothing recorded');
});

api('the same key with the same body answers the same transfer, recorded once', async (ctx) => {
  const key = randomUUID();
  const first = (await (await post(ctx, good, { 'idempotency-key': key })).json()) as { transfer: string };
  const before = await recorded(ctx);
  const again = await post(ctx, good, { 'idempotency-key': key });
  assert.is(again.status, 202);
  assert.is(((await again.json()) as { transfer: string }).transfer, first.transfer);
  // The draft's quoted form of the same key is the same key.
  const quoted = await post(ctx, good, { 'idempotency-key': `"${key}"` });
  assert.is(((await quoted.json()) as { transfer: string }).transfer, first.transfer);
  assert.equal(await recorded(ctx), before, 'no second request recorded');
});

api('the same key with another body is refused with 422, and records nothing', async (ctx) => {
  const key = randomUUID();
  await post(ctx, good, { 'idempotency-key': key });
  const before = await recorded(ctx);
  const other = await post(ctx, { ...good, amount: 11 }, { 'idempotency-key': key });
  await assertRefused(other, 422, /idempotency_key_reused/, 'key reused');
  assert.equal(await recorded(ctx), before);
});

api('50 concurrent posts with one key make one transfer', async (ctx) => {
  const key = randomUUID();
  const answers = await Promise.all(Array.from({ length: 50 }, () => post(ctx, good, { 'idempotency-key': key })));
  const transfers = new Set(
    await Promise.all(answers.map(async (a) => ((await a.json()) as { transfer: string }).transfer)),
  );
  assert.is(transfers.size, 1);
});

api('an overdraft is rejected with its reason and moves nothing', async (ctx) => {
  const response = await post(ctx, { ...good, amount: 1_000 });
  const { transfer } = (await response.json()) as { transfer: string };
  const stored = await transferStatus(ctx.accounts.redis, transfer, ctx.prefix);
  if (!stored) throw new Error('no status');
  await runSaga(ctx.accounts.redis, stored, ctx.prefix);
  const status = (await (await ctx.app.request(`/transfers/${transfer}`)).json()) as { status: string; reason: string };
  assert.equal([status.status, status.reason], ['rejected', 'insufficient-funds']);
});

api('while the registry catches up, a transfer is refused with 503 (nothing recorded)', async (ctx) => {
  const waiting = startAccountsProjection({
    redisUrl: 'redis://127.0.0.1:1',
    log,
    name: 'transfer',
  });
  try {
    const app = createTransferApp({ log, metrics: createMetrics('transfer'), ...waiting, prefix: ctx.prefix });
    const before = await recorded(ctx);
    const response = await app.request('/transfers', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID() },
      body: JSON.stringify(good),
    });
    assert.is(response.status, 503);
    assert.equal(await recorded(ctx), before);
  } finally {
    await waiting.close();
  }
});

api('not ready while the connection it writes through is down, though its registry is live', async (ctx) => {
  const redis = connectRedis(ctx.redisServer.url, 'transfer:test', silentLog);
  await untilReady(redis);
  const app = createTransferApp({
    log,
    metrics: createMetrics('transfer'),
    ...ctx.accounts,
    redis,
    prefix: ctx.prefix,
  });
  assert.is((await app.request('/readyz')).status, 200);
  const closed = new Promise((resolve) => redis.once('end', resolve));
  redis.disconnect();
  await closed;
  const answer = await app.request('/readyz');
  assert.is(answer.status, 503);
  assert.match(JSON.stringify(await answer.json()), /Redis is not answering/);
  assert.ok(ctx.accounts.projection.ready, 'the registry itself still serves');
});

api.run();
