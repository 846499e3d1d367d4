/**
 * The transfer API against a real Redis: every kind of bad input gets a 4xx JSON body and records
 * nothing; each idempotency rule holds; statuses read back as the saga settles them.
 */
import { randomUUID } from 'node:crypto';
import {
  type AccountsProjection,
  accountEvents,
  idempotencyKey,
  ledgerStateKey,
  startAccountsProjection,
  streamKey,
  transferStatusKey,
  transfersKey,
} from '@microbank/events';
import { issueSupply, openingIssuance } from '@microbank/ledger';
import { createLogger, createMetrics, MAX_BODY_BYTES } from '@microbank/service-runtime';
import { appendEvent, connectRedis, silentLog, untilReady } from '@microbank/streams';
import { type RedisServerContext, redisSuite, startTestRedis, uniquePrefix, waitFor } from '@microbank/testing';
import type { Hono } from 'hono';
import * as assert from 'uvu/assert';
import { createTransferApp, type TransferAppOptions } from './app.ts';
import { type Credentials, credentialsOf, newCredential } from './credentials.ts';
import { PROCESSORS_GROUP, startProcessor } from './processor.ts';
import { runSaga } from './saga.ts';
import { transferStatus } from './transfer-log.ts';

interface Extra {
  accounts: AccountsProjection;
  app: Hono;
  prefix: string;
}
type Context = RedisServerContext & Extra;

/** The tests' clients: an operator who may debit any account, and john, who may debit his own. */
const operator = newCredential('operator');
const john = newCredential('john');
const credentials: Credentials = credentialsOf([
  { client: 'operator', sha256: operator.sha256, debits: '*' },
  { client: 'john', sha256: john.sha256, debits: ['john-account'] },
]);
const bearer = (credential: { credential: string }) => `Bearer ${credential.credential}`;

const api = redisSuite<Extra>('transfer API');
const log = createLogger('transfer', 'silent');

/** The API over this suite's accounts, with the operator and john as clients; `options` as the test needs. */
function appOf(ctx: Context, options: Partial<TransferAppOptions> = {}): Hono {
  return createTransferApp({
    log,
    metrics: createMetrics('transfer'),
    ...ctx.accounts,
    credentials,
    admission: { refusal: undefined },
    prefix: ctx.prefix,
    ...options,
  });
}

api.before(async (ctx) => {
  ctx.prefix = uniquePrefix();
  const stream = streamKey('accounts', ctx.prefix);
  ctx.accounts = startAccountsProjection({ redisAt: ctx.redisServer.url, log, name: 'transfer', stream });
  await ctx.accounts.projection.whenReady();
  let last = '0-0';
  for (const account of ['john-account', 'mary-account']) {
    await issueSupply(ctx.accounts.redis, { issuance: openingIssuance(account), account, amount: 100 }, ctx.prefix);
    last = await appendEvent(ctx.accounts.redis, stream, accountEvents, {
      type: 'AccountRegistered',
      data: { account, url: 'http://127.0.0.1:1', instance: 't', registeredAt: new Date().toISOString() },
    });
  }
  await ctx.accounts.projection.waitForPosition(last, 5_000);
  ctx.app = appOf(ctx);
});

api.after(async (ctx) => {
  await ctx.accounts.close();
});

const good = { from: 'john-account', to: 'mary-account', amount: 10 };

function post(ctx: Context, body: unknown, headers: Record<string, string> = {}, app = ctx.app) {
  return app.request('/transfers', {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'idempotency-key': randomUUID(),
      authorization: bearer(operator),
      ...headers,
    },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

/** GET /transfers/:id as `who` (the operator by default). */
function read(ctx: Context, transfer: string, who = operator) {
  return ctx.app.request(`/transfers/${transfer}`, { headers: { authorization: bearer(who) } });
}

/** Everything that records a transfer: its stream's length and its keys. */
async function recorded(ctx: Context) {
  const redis = ctx.accounts.redis;
  const keys = await redis.keys(`${idempotencyKey('*', ctx.prefix)}`);
  return [await redis.xlen(transfersKey(ctx.prefix)), keys.length];
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
  const status = await read(ctx, body.transfer);
  assert.is(status.status, 200);
  const pending = (await status.json()) as { status: string; from: string; amount: number };
  assert.equal([pending.status, pending.from, pending.amount], ['pending', 'john-account', 10]);
  const stored = await transferStatus(ctx.accounts.redis, body.transfer, ctx.prefix);
  if (!stored) throw new Error('no status stored');
  await runSaga(ctx.accounts.redis, stored, ctx.prefix);
  const done = (await (await read(ctx, body.transfer)).json()) as {
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
          headers: { 'content-type': 'application/json', authorization: bearer(operator) },
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
    ['an unknown transfer', () => read(ctx, randomUUID()), 404, /no transfer/],
    ['a transfer id that is no UUID', () => read(ctx, '..%2f..%2fetc'), 404, /not_found/],
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
  const status = (await (await read(ctx, transfer)).json()) as { status: string; reason: string };
  assert.equal([status.status, status.reason], ['rejected', 'insufficient-funds']);
});

api('while the registry catches up, a transfer is refused with 503 (nothing recorded)', async (ctx) => {
  const waiting = startAccountsProjection({
    redisAt: 'redis://127.0.0.1:1',
    log,
    name: 'transfer',
  });
  try {
    const app = appOf(ctx, waiting);
    const before = await recorded(ctx);
    const response = await post(ctx, good, {}, app);
    assert.is(response.status, 503);
    assert.equal(await recorded(ctx), before);
  } finally {
    await waiting.close();
  }
});

api('Redis memory not read lately: a new transfer gets 503 unavailable, nothing recorded', async (ctx) => {
  const app = appOf(ctx, { admission: { refusal: 'unread' } });
  const before = await recorded(ctx);
  const response = await post(ctx, good, {}, app);
  assert.is(response.status, 503);
  assert.is(response.headers.get('retry-after'), '1');
  assert.equal(await response.json(), {
    error: 'unavailable',
    message: 'the room left in Redis is not known right now (its memory could not be read lately); try again',
  });
  assert.equal(await recorded(ctx), before);
});

api('not ready while the connection it writes through is down, though its registry is live', async (ctx) => {
  const redis = connectRedis(ctx.redisServer.url, 'transfer:test', silentLog);
  await untilReady(redis);
  const app = appOf(ctx, { redis });
  assert.is((await app.request('/readyz')).status, 200);
  const closed = new Promise((resolve) => redis.once('end', resolve));
  redis.disconnect();
  await closed;
  const answer = await app.request('/readyz');
  assert.is(answer.status, 503);
  assert.match(JSON.stringify(await answer.json()), /Redis is not answering/);
  assert.ok(ctx.accounts.projection.ready, 'the registry itself still serves');
});

api('without a valid credential: 401 JSON, counted, nothing recorded and no transfer shown', async (ctx) => {
  const accepted = (await (await post(ctx, good)).json()) as { transfer: string };
  const before = await recorded(ctx);
  const forged = `operator.${'A'.repeat(43)}`;
  const cases: Array<[string, Record<string, string>]> = [
    ['no Authorization', { authorization: '' }],
    ['not Bearer', { authorization: `Basic ${Buffer.from('operator:x').toString('base64')}` }],
    ['a credential without its client', { authorization: `Bearer ${'A'.repeat(43)}` }],
    ['a wrong secret', { authorization: `Bearer ${forged}` }],
    ['an unknown client', { authorization: `Bearer mallory.${'A'.repeat(43)}` }],
    ['a digest instead of the credential', { authorization: `Bearer operator.${operator.sha256}` }],
  ];
  for (const [what, headers] of cases) {
    const response = await post(ctx, good, headers);
    await assertRefused(response, 401, /unauthenticated/, what);
    assert.match(response.headers.get('www-authenticate') ?? '', /^Bearer/, `${what}: says how to authenticate`);
    const shown = await ctx.app.request(`/transfers/${accepted.transfer}`, { headers });
    await assertRefused(shown, 401, /unauthenticated/, `${what}: reading a transfer`);
  }
  assert.equal(await recorded(ctx), before, 'nothing recorded');
  const metrics = await (await ctx.app.request('/metrics')).text();
  assert.match(metrics, /microbank_http_requests_total\{[^}]*route="\/transfers"[^}]*status="401"[^}]*\} 6/);
});

api('a credential that may not debit `from`: 403 JSON, the same whether the account exists or not', async (ctx) => {
  const before = await recorded(ctx);
  const asJohn = { authorization: bearer(john) };
  await assertRefused(
    await post(ctx, { ...good, from: 'mary-account', to: 'john-account' }, asJohn),
    403,
    /forbidden.*may not debit mary-account/,
    'mary',
  );
  const stranger = await post(ctx, { ...good, from: 'eve-account', to: 'john-account' }, asJohn);
  await assertRefused(stranger, 403, /may not debit eve-account/, 'an account that does not exist');
  assert.equal(await recorded(ctx), before, 'nothing recorded');
  // john may debit his own account.
  assert.is((await post(ctx, good, asJohn)).status, 202);
  const metrics = await (await ctx.app.request('/metrics')).text();
  assert.match(metrics, /microbank_http_requests_total\{[^}]*route="\/transfers"[^}]*status="403"[^}]*\} 2/);
});

api("a client reads its own transfers and those debiting its accounts; anyone else's answer 404", async (ctx) => {
  const mine = (await (await post(ctx, good, { authorization: bearer(john) })).json()) as { transfer: string };
  assert.is((await read(ctx, mine.transfer, john)).status, 200, 'john reads his own');
  assert.is((await read(ctx, mine.transfer, operator)).status, 200, 'the operator may debit john: reads it');
  const marys = (await (await post(ctx, { from: 'mary-account', to: 'john-account', amount: 1 })).json()) as {
    transfer: string;
  };
  await assertRefused(
    await read(ctx, marys.transfer, john),
    404,
    /no transfer/,
    "john reads the operator's transfer from mary",
  );
});

api('Idempotency-Keys are scoped to their client: the same key from two clients makes two transfers', async (ctx) => {
  const key = randomUUID();
  const fromOperator = (await (await post(ctx, good, { 'idempotency-key': key })).json()) as { transfer: string };
  const fromJohn = await post(ctx, good, { 'idempotency-key': key, authorization: bearer(john) });
  assert.is(fromJohn.status, 202);
  assert.is.not(((await fromJohn.json()) as { transfer: string }).transfer, fromOperator.transfer);
});

api(
  'a retry is looked up before anything is checked: it answers the first transfer whatever changed since',
  async (ctx) => {
    const key = randomUUID();
    const first = (await (await post(ctx, good, { 'idempotency-key': key })).json()) as { transfer: string };
    // Settled since: the retry answers its status now.
    const stored = await transferStatus(ctx.accounts.redis, first.transfer, ctx.prefix);
    if (!stored) throw new Error('no status');
    await runSaga(ctx.accounts.redis, stored, ctx.prefix);
    // A service whose registry does not know the accounts (a stream of its own, empty), and one whose
    // registry is not ready at all: neither refuses the retry of an accepted transfer.
    const empty = startAccountsProjection({
      redisAt: ctx.redisServer.url,
      log,
      name: 'transfer',
      stream: `${ctx.prefix}:empty`,
    });
    const away = startAccountsProjection({ redisAt: 'redis://127.0.0.1:1', log, name: 'transfer' });
    try {
      await empty.projection.whenReady();
      for (const [what, projection] of [
        ['a registry without the accounts', empty],
        ['a registry not ready', away],
      ] as const) {
        const app = appOf(ctx, { ...projection, redis: ctx.accounts.redis });
        const before = await recorded(ctx);
        const retry = await post(ctx, good, { 'idempotency-key': key }, app);
        assert.is(retry.status, 202, what);
        assert.equal(await retry.json(), { transfer: first.transfer, status: 'completed' }, what);
        // The same key with another body is still refused, before the registry is asked.
        await assertRefused(
          await post(ctx, { ...good, amount: 99 }, { 'idempotency-key': key }, app),
          422,
          /idempotency_key_reused/,
          what,
        );
        assert.equal(await recorded(ctx), before, `${what}: nothing recorded`);
      }
    } finally {
      await empty.close();
      await away.close();
    }
  },
);

api('a key and a settled status are kept for the retention, a pending status until it settles', async (ctx) => {
  const retentionMs = 400;
  const app = appOf(ctx, { retentionMs });
  const redis = ctx.accounts.redis;
  const key = randomUUID();
  const { transfer } = (await (await post(ctx, good, { 'idempotency-key': key }, app)).json()) as { transfer: string };
  const keyTtl = await redis.pttl(idempotencyKey(`operator/${key}`, ctx.prefix));
  assert.ok(keyTtl > 0 && keyTtl <= retentionMs, `the key expires within the retention (${keyTtl} ms)`);
  assert.is(await redis.pttl(transferStatusKey(transfer, ctx.prefix)), -1, 'a pending status does not expire');
  const stored = await transferStatus(redis, transfer, ctx.prefix);
  if (!stored) throw new Error('no status');
  await runSaga(redis, stored, ctx.prefix, retentionMs);
  const statusTtl = await redis.pttl(transferStatusKey(transfer, ctx.prefix));
  assert.ok(
    statusTtl > 0 && statusTtl <= retentionMs,
    `a settled status expires within the retention (${statusTtl} ms)`,
  );
  await waitFor(
    'the key and the status to expire',
    async () =>
      await redis.exists(idempotencyKey(`operator/${key}`, ctx.prefix), transferStatusKey(transfer, ctx.prefix)),
    (left) => left === 0,
  );
  // Past the retention the transfer is still on the stream and in the ledgers, and its saga run
  // again (a late redelivery) moves no money: the ledgers' steps are not working state.
  const before = await redis.hget(ledgerStateKey('john-account', ctx.prefix), 'balance');
  await runSaga(redis, stored, ctx.prefix, retentionMs);
  assert.is(await redis.hget(ledgerStateKey('john-account', ctx.prefix), 'balance'), before);
});

api('a POST hands its request to the replica`s own processor; a key used before gives the room back', async (ctx) => {
  // The processor's reads go to another Redis: here, only the request script delivers to it.
  const elsewhere = await startTestRedis();
  const there = connectRedis(elsewhere.url, 'elsewhere', silentLog);
  const stream = transfersKey(ctx.prefix);
  // The suite's earlier requests count as read: the script reads the oldest request not read yet.
  await ctx.accounts.redis.xgroup('CREATE', stream, PROCESSORS_GROUP, '$', 'MKSTREAM');
  const processor = startProcessor({
    redis: ctx.accounts.redis,
    blockRedis: connectRedis(elsewhere.url, 'processor', silentLog),
    log: silentLog,
    consumer: 'this-replica',
    claimIdleMs: 60_000,
    prefix: ctx.prefix,
  });
  try {
    await untilReady(there);
    await there.xgroup('CREATE', stream, PROCESSORS_GROUP, '0', 'MKSTREAM');
    await waitFor(
      'the processor to wait on its read of the other Redis',
      async () => (await there.client('LIST')) as string,
      (clients) => /cmd=xreadgroup/.test(clients),
    );
    const app = appOf(ctx, { processor });
    const key = randomUUID();
    const answer = await post(ctx, good, { 'idempotency-key': key }, app);
    assert.is(answer.status, 202);
    const { transfer } = (await answer.json()) as { transfer: string };
    const settled = await waitFor(
      'the transfer to settle',
      () => transferStatus(ctx.accounts.redis, transfer, ctx.prefix),
      (status) => status?.status !== 'pending',
    );
    assert.is(settled?.status, 'completed');
    // The same key again, more times than the processor takes requests at once: each answers the
    // transfer made, and gives back the room it reserved.
    for (let i = 0; i < 6; i++) assert.is((await post(ctx, good, { 'idempotency-key': key }, app)).status, 202);
    const room = processor.reserve();
    assert.ok(room, 'the room given back');
    room.release();
  } finally {
    await processor.stop();
    there.disconnect();
    await elsewhere.dispose();
  }
});

api.run();
