/**
 * Money and replicas: on a primary whose writes one replica must confirm (REDIS_CONFIRM_REPLICAS=1),
 * with that replica frozen, a transfer request is answered as indeterminate (503 with its ID), never
 * as accepted, and so is the same request sent again, until the replica holds it; a saga moves no
 * money on a request its replica does not hold; a step or a settlement made before is not answered
 * as confirmed either (a repeat writes nothing: confirmed-write.ts says why it is covered). That a
 * saga takes no step before the one before it is held is in cluster.test.ts (two shards needed).
 */
import { randomUUID } from 'node:crypto';
import {
  type AccountsProjection,
  accountEvents,
  accountRegistered,
  ledgerStepsKey,
  startAccountsProjection,
  streamKey,
  transfersKey,
} from '@microbank/events';
import { debit, issueSupply, openingIssuance } from '@microbank/ledger';
import { createLogger, createMetrics } from '@microbank/service-runtime';
import { appendEvent, Unconfirmed } from '@microbank/streams';
import { type ReplicatedRedis, startReplicatedRedis, testSuite, uniquePrefix } from '@microbank/testing';
import type { Hono } from 'hono';
import * as assert from 'uvu/assert';
import { createTransferApp } from './app.ts';
import { credentialsOf, newCredential } from './credentials.ts';
import { RequestLost, runSaga } from './saga.ts';
import { settleTransfer, transferStatus } from './transfer-log.ts';

interface Context {
  redis: ReplicatedRedis;
  accounts: AccountsProjection;
  app: Hono;
  prefix: string;
}
const confirmed = testSuite<Context>('transfers confirmed by a replica', {} as Context);
const operator = newCredential('operator');
const log = createLogger('transfer', 'silent');

confirmed.before(async (ctx) => {
  ctx.redis = await startReplicatedRedis();
  ctx.prefix = uniquePrefix();
  const stream = streamKey('accounts', ctx.prefix);
  ctx.accounts = startAccountsProjection({
    redisAt: { urls: [ctx.redis.primary.url], cluster: false, confirm: { replicas: 1, timeoutMs: 300 } },
    log,
    name: 'transfer',
    stream,
  });
  await ctx.accounts.projection.whenReady();
  let last = '0-0';
  for (const account of ['john-account', 'mary-account']) {
    await issueSupply(ctx.accounts.redis, { issuance: openingIssuance(account), account, amount: 100 }, ctx.prefix);
    last = await appendEvent(
      ctx.accounts.redis,
      stream,
      accountEvents,
      accountRegistered({ account, url: 'http://127.0.0.1:1', instance: 't' }),
    );
  }
  await ctx.accounts.projection.waitForPosition(last, 5_000);
  ctx.app = createTransferApp({
    log,
    metrics: createMetrics('transfer'),
    ...ctx.accounts,
    credentials: credentialsOf([{ client: 'operator', sha256: operator.sha256, debits: '*' }]),
    admission: { refusal: undefined },
    prefix: ctx.prefix,
  });
});
confirmed.after.each((ctx) => ctx.redis.thaw());
confirmed.after(async (ctx) => {
  await ctx.accounts?.close();
  await ctx.redis?.dispose();
});

const request = (ctx: Context, key: string) =>
  ctx.app.request('/transfers', {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'idempotency-key': key,
      authorization: `Bearer ${operator.credential}`,
    },
    body: JSON.stringify({ from: 'john-account', to: 'mary-account', amount: 10 }),
  });

/** Runs `step`, expecting Unconfirmed. */
async function unconfirmed(step: () => Promise<unknown>, what: string): Promise<void> {
  try {
    await step();
  } catch (error) {
    assert.instance(error, Unconfirmed, what);
    return;
  }
  assert.unreachable(`${what}: answered as confirmed while the replica was frozen`);
}

confirmed(
  'a request its replica did not confirm is indeterminate (503 and its ID), again on a retry, until confirmed',
  async (ctx) => {
    const key = randomUUID();
    ctx.redis.freeze();
    const first = await request(ctx, key);
    assert.is(first.status, 503);
    assert.is(first.headers.get('retry-after'), '1');
    const body = (await first.json()) as { error: string; transfer: string };
    assert.is(body.error, 'indeterminate');
    assert.match(body.transfer, /^[0-9a-f-]{36}$/);

    const again = await request(ctx, key);
    assert.is(again.status, 503, 'the same request again, still unconfirmed');
    assert.is(((await again.json()) as { transfer: string }).transfer, body.transfer);

    ctx.redis.thaw();
    const settled = await request(ctx, key);
    assert.is(settled.status, 202, 'confirmed once the replica holds it');
    assert.equal(await settled.json(), { transfer: body.transfer, status: 'pending' });
  },
);

confirmed('a saga moves no money on a request its replica does not hold, and completes once it does', async (ctx) => {
  ctx.redis.freeze();
  const indeterminate = (await (await request(ctx, randomUUID())).json()) as { error: string; transfer: string };
  assert.is(indeterminate.error, 'indeterminate');
  const status = await transferStatus(ctx.accounts.redis, indeterminate.transfer, ctx.prefix);
  if (!status) throw new Error('no status on the primary');
  await unconfirmed(() => runSaga(ctx.accounts.redis, status, ctx.prefix), 'the saga of an unconfirmed request');
  assert.not.ok(
    await ctx.accounts.redis.hexists(ledgerStepsKey('john-account', ctx.prefix), `debit:${indeterminate.transfer}`),
    'no debit was made',
  );
  ctx.redis.thaw();
  const settlement = await runSaga(ctx.accounts.redis, status, ctx.prefix);
  assert.is(settlement.type, 'TransferCompleted', 'run again once its replica holds it, it completes');
});

confirmed(
  'a saga moves no money on a request the transfers stream no longer holds (lost in a failover), nor on another`s',
  async (ctx) => {
    // What a failover to a replica that never held the request leaves: the saga read it from the old
    // primary, and runs again against the new one, whose replicas confirm at once.
    const lost = (await (await request(ctx, randomUUID())).json()) as { transfer: string };
    const status = await transferStatus(ctx.accounts.redis, lost.transfer, ctx.prefix);
    if (!status) throw new Error('no status');
    const other = (await (await request(ctx, randomUUID())).json()) as { transfer: string };
    const otherStatus = await transferStatus(ctx.accounts.redis, other.transfer, ctx.prefix);
    if (!otherStatus) throw new Error('no status');
    await ctx.accounts.redis.xdel(transfersKey(ctx.prefix), status.position ?? '');
    for (const [what, run] of [
      ['its request gone', status],
      ['another transfer`s request at its position', { ...otherStatus, transfer: lost.transfer }],
    ] as const) {
      try {
        await runSaga(ctx.accounts.redis, run, ctx.prefix);
        assert.unreachable(`${what}: the saga ran`);
      } catch (error) {
        assert.instance(error, RequestLost, what);
      }
    }
    assert.not.ok(
      await ctx.accounts.redis.hexists(ledgerStepsKey('john-account', ctx.prefix), `debit:${lost.transfer}`),
      'no debit was made',
    );
  },
);

confirmed(
  'a step or a settlement made before is not answered as confirmed while its replica is frozen',
  async (ctx) => {
    const accepted = (await (await request(ctx, randomUUID())).json()) as { transfer: string };
    const status = await transferStatus(ctx.accounts.redis, accepted.transfer, ctx.prefix);
    if (!status) throw new Error('no status');
    const settlement = await runSaga(ctx.accounts.redis, status, ctx.prefix);
    ctx.redis.freeze();
    const transfer = { ...status, requested: status.position };
    await unconfirmed(() => debit(ctx.accounts.redis, transfer, ctx.prefix), 'a debit made before');
    await unconfirmed(
      () => settleTransfer(ctx.accounts.redis, status, settlement, ctx.prefix),
      'a settlement made before',
    );
  },
);

confirmed.run();
