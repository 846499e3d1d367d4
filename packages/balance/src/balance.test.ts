import { randomUUID } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import {
  accountEvents,
  ledgerEvents,
  ledgerKey,
  ledgerStateKey,
  startAccountsProjection,
  streamKey,
  transferEvents,
  transfersKey,
} from '@microbank/events';
import { type AuditFigures, type Books, credit, debit, issueSupply, startBooks } from '@microbank/ledger';
import { createLogger, createMetrics } from '@microbank/service-runtime';
import { appendEvent, encodeEvent } from '@microbank/streams';
import {
  assertBadRequestsRefused,
  freePort,
  type RedisServerContext,
  redisSuite,
  spawnNode,
  uniquePrefix,
  waitFor,
} from '@microbank/testing';
import * as assert from 'uvu/assert';
import { accountClient } from './account-client.ts';
import { accountUrls } from './account-url.ts';
import { parseUrlPatterns } from './account-url-policy.ts';
import { createBalanceApp } from './app.ts';
import { registerAuditMetrics } from './audit-metrics.ts';

interface Accounts {
  john: http.Server;
  johnPort: number;
  silentAccount: net.Server;
  silentPort: number;
  opened: Books[];
}
type Context = RedisServerContext & Accounts;

const balance = redisSuite<Accounts>('balance', { extra: { opened: [] } });
const log = createLogger('balance', 'silent');

balance.before(async (ctx) => {
  // An account as balance sees it: an HTTP server that answers GET /balance.
  ctx.john = http.createServer((_request, response) => response.end('{"balance":100}')).listen(0, '127.0.0.1');
  await new Promise((resolve) => ctx.john.once('listening', resolve));
  ctx.johnPort = (ctx.john.address() as net.AddressInfo).port;
  // An account that accepts connections and never answers.
  ctx.silentAccount = net.createServer(() => {}).listen(0, '127.0.0.1');
  await new Promise((resolve) => ctx.silentAccount.once('listening', resolve));
  ctx.silentPort = (ctx.silentAccount.address() as net.AddressInfo).port;
});

balance.after.each(async (ctx) => {
  for (const accounts of ctx.opened.splice(0)) await accounts.close();
});

balance.after(async (ctx) => {
  ctx.john.close();
  ctx.silentAccount.close();
});

async function openApp(ctx: Context, registered: Record<string, string>, redisAt = ctx.redisServer.url) {
  const prefix = uniquePrefix();
  const stream = streamKey('accounts', prefix);
  const accounts = startBooks({ redisAt, log, name: 'balance', prefix });
  ctx.opened.push(accounts);
  const app = createBalanceApp({
    log,
    metrics: createMetrics('balance'),
    ...accounts,
    patterns: parseUrlPatterns('http://127.0.0.1:*'),
    urls: accountUrls(accounts.redis),
    client: accountClient({ timeoutMs: 300, concurrency: 4, queue: 8, maxTotal: 64 }),
  });
  if (redisAt !== ctx.redisServer.url) return app;
  await accounts.projection.whenReady();
  let last = '0-0';
  for (const [account, url] of Object.entries(registered)) {
    last = await appendEvent(accounts.redis, stream, accountEvents, {
      type: 'AccountRegistered',
      data: { account, url, instance: 'test', registeredAt: new Date().toISOString() },
    });
  }
  await accounts.projection.waitForPosition(last, 5_000);
  return app;
}

balance('asks the account at the URL from its registration', async (ctx) => {
  const app = await openApp(ctx, { 'john-account': `http://127.0.0.1:${ctx.johnPort}` });
  const response = await app.request('/balance/john-account');
  assert.is(response.status, 200);
  assert.is(await response.text(), '{"account":"john-account","balance":100}');
});

balance('bad requests on every route get a 4xx JSON error', async (ctx) => {
  const app = await openApp(ctx, { 'john-account': `http://127.0.0.1:${ctx.johnPort}` });
  await assertBadRequestsRefused(
    (path, init) => app.request(path, init),
    ['/balance/john-account', '/healthz', '/readyz', '/metrics'],
  );
});

balance('an account nobody registered is a 404 JSON', async (ctx) => {
  const app = await openApp(ctx, {});
  const response = await app.request('/balance/bob-account');
  assert.is(response.status, 404);
  assert.equal(await response.json(), {
    error: 'not_found',
    message: 'no account named bob-account has registered',
    account: 'bob-account',
  });
});

balance('an invalid account name is a 400 JSON', async (ctx) => {
  const app = await openApp(ctx, {});
  for (const name of ['John', 'a'.repeat(64), 'j%C3%B6hn', 'john_account', '-john', 'john%00']) {
    const response = await app.request(`/balance/${name}`);
    assert.is(response.status, 400, name);
    const body = (await response.json()) as { error: string; message: string };
    assert.is(body.error, 'bad_request');
    assert.match(body.message, /account name must be a DNS label/);
  }
});

balance('paths that are no account route are 404 JSON', async (ctx) => {
  const app = await openApp(ctx, {});
  // URL parsing resolves dot segments, %2e%2e included, before routing.
  for (const path of ['/balance/', '/balance/a/b', '/balance/../accounts', '/balance/%2e%2e', '/balance/..']) {
    const response = await app.request(path);
    assert.ok(response.status === 404, `${path}: ${response.status}`);
    assert.is(((await response.json()) as { error: string }).error, 'not_found');
  }
});

balance('an account that is down is a 503 naming the account', async (ctx) => {
  const app = await openApp(ctx, { 'mary-account': `http://127.0.0.1:${await freePort()}` });
  const response = await app.request('/balance/mary-account');
  assert.is(response.status, 503);
  const body = (await response.json()) as { error: string; message: string; account: string };
  assert.is(body.account, 'mary-account');
  assert.is(body.message, 'account mary-account did not give its balance');
});

balance('an account that does not answer in time is a 503 after the timeout', async (ctx) => {
  const app = await openApp(ctx, { 'slow-account': `http://127.0.0.1:${ctx.silentPort}` });
  const response = await app.request('/balance/slow-account');
  assert.is(response.status, 503);
  assert.is(((await response.json()) as { message: string }).message, 'account slow-account did not give its balance');
});

balance('before its registry has caught up, balance answers 503 JSON', async (ctx) => {
  const app = await openApp(ctx, {}, `redis://127.0.0.1:${await freePort()}`);
  const response = await app.request('/balance/john-account');
  assert.is(response.status, 503);
  assert.is(((await response.json()) as { error: string }).error, 'unavailable');
});

balance('as a process: serves a balance over a real socket and stops on SIGTERM', async (ctx) => {
  const stream = streamKey('accounts');
  const writer = startAccountsProjection({ redisAt: ctx.redisServer.url, log, name: 'writer', stream });
  await writer.projection.whenReady();
  await appendEvent(writer.redis, stream, accountEvents, {
    type: 'AccountRegistered',
    data: {
      account: 'john-account',
      url: `http://127.0.0.1:${ctx.johnPort}`,
      instance: 't',
      registeredAt: new Date().toISOString(),
    },
  });
  await writer.close();
  const service = spawnNode('packages/balance/src/main.ts', { env: { REDIS_URL: ctx.redisServer.url, PORT: '0' } });
  const port = await service.port();
  await service.logged('caught up; ready');
  const response = await fetch(`http://127.0.0.1:${port}/balance/john-account`);
  assert.is(await response.text(), '{"account":"john-account","balance":100}');
  service.child.kill('SIGTERM');
  assert.equal(await service.exited, { code: 0, signal: null });
});

balance('as a process: bad configuration exits 1 naming the variable', async () => {
  const service = spawnNode('packages/balance/src/main.ts', { env: { PORT: '0' } });
  assert.is((await service.exited).code, 1);
  assert.match(service.lines.join('\n'), /balance: invalid configuration: REDIS_URL is required/);
});

balance(
  'GET /audit: conserved through a transfer, in the ledgers` words; a forged credit turns it red',
  async (ctx) => {
    const prefix = uniquePrefix();
    const books = startBooks({ redisAt: ctx.redisServer.url, log, name: 'balance', prefix });
    ctx.opened.push(books);
    const metrics = createMetrics('balance');
    registerAuditMetrics(metrics, books.audit);
    const app = createBalanceApp({
      log,
      metrics,
      ...books,
      patterns: parseUrlPatterns('http://127.0.0.1:*'),
      urls: accountUrls(books.redis),
      client: accountClient({ timeoutMs: 300, concurrency: 4, queue: 8, maxTotal: 64 }),
    });
    await books.projection.whenReady();
    for (const account of ['john-account', 'mary-account']) {
      await issueSupply(books.redis, { issuance: `opening:${account}`, account, amount: 100 }, prefix);
      await appendEvent(books.redis, streamKey('accounts', prefix), accountEvents, {
        type: 'AccountRegistered',
        data: { account, url: 'http://127.0.0.1:1', instance: 't', registeredAt: new Date().toISOString() },
      });
    }
    const audit = async () => (await (await app.request('/audit')).json()) as AuditFigures;
    const request = { transfer: randomUUID(), from: 'john-account', to: 'mary-account', amount: 30 };
    const transfers = transfersKey(prefix);
    const requested = await appendEvent(books.redis, transfers, transferEvents, {
      type: 'TransferRequested',
      data: { ...request, key: 'k', requestedAt: new Date().toISOString() },
    });
    const t = { ...request, requested };
    const debited = await debit(books.redis, t, prefix);
    if (debited.outcome.kind !== 'debited') throw new Error('not debited');
    const inFlight = await waitFor(
      'the debit in the books',
      audit,
      (figures) => figures.ledgers === 2 && figures.issuing.issuances === 0 && figures.inFlight.amount === 30,
    );
    assert.equal(
      [inFlight.balances, inFlight.inFlight, inFlight.ledgers, inFlight.conserved],
      [170, { amount: 30, transfers: 1 }, 2, true],
    );
    const credited = await credit(books.redis, t, debited.outcome.position, prefix);
    if (credited.outcome.kind !== 'credited') throw new Error('not credited');
    await appendEvent(books.redis, transfers, transferEvents, {
      type: 'TransferCompleted',
      data: { transfer: t.transfer, debit: debited.outcome.position, credit: credited.outcome.position },
    });
    const settled = await waitFor('the transfer settled in the books', audit, (f) => f.transfers.completed === 1);
    assert.equal(
      { ...settled, checkpoint: undefined },
      {
        conserved: true,
        supply: { issued: 200, openings: 0, total: 200 },
        balances: 200,
        inFlight: { amount: 0, transfers: 0 },
        issuing: { amount: 0, issuances: 0 },
        ahead: { amount: 0, entries: 0 },
        ledgers: 2,
        transfers: { requested: 1, completed: 1, rejected: 0, pending: 0 },
        stuck: { afterMs: 30_000, transfers: 0, issuances: 0, first: [] },
        violations: { count: 0, first: [] },
        checkpoint: undefined,
      },
    );
    assert.equal(Object.keys(settled.checkpoint?.positions ?? {}).sort(), [
      'ledger:{john-account}',
      'ledger:{mary-account}',
      '{supply}',
      '{transfers}',
    ]);
    assert.match(settled.checkpoint?.digest ?? '', /^[0-9a-f]{64}$/);
    // Someone with Redis access writes money into mary's ledger, numbered as the next entry: a
    // credit no debit pays for.
    const forged = randomUUID();
    const seq = Number(await books.redis.hget(ledgerStateKey('mary-account', prefix), 'seq')) + 1;
    await books.redis.xadd(
      ledgerKey('mary-account', prefix),
      '*',
      ...encodeEvent(ledgerEvents, {
        type: 'Credited',
        data: { transfer: forged, from: 'john-account', amount: 1_000, debit: debited.outcome.position, seq },
      }),
    );
    const red = await waitFor('the audit to turn red', audit, (figures) => figures.conserved === false);
    assert.ok(
      red.violations.first.some(
        (v) => v.ledger === 'mary-account' && v.transfer === forged && /which does not hold it/.test(v.reason),
      ),
      JSON.stringify(red.violations),
    );
    const exported = await (await app.request('/metrics')).text();
    assert.match(exported, /microbank_audit_conserved(\{[^}]*\})? 0/);
    assert.match(exported, /microbank_audit_violations(\{[^}]*\})? [1-9]/);
    assert.match(exported, /microbank_audit_stuck_transfers(\{[^}]*\})? 0/);
  },
);

balance.run();
