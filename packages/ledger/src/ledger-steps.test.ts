/**
 * The ledger's steps, given/when/then against a real Redis: given a ledger's past steps, when a
 * step is tried, then these events are on the ledger (or none) and this is the outcome. Every rule
 * of the scripts has a case that fails if the rule breaks.
 */
import { randomUUID } from 'node:crypto';
import {
  closeRedis,
  connectRedis,
  decodeEntry,
  type LedgerEvent,
  ledgerEvents,
  ledgerKey,
  silentLog,
  untilReady,
} from '@microbank/events';
import { assertRejects, readStream, startTestRedis, type TestRedis, testSuite, uniquePrefix } from '@microbank/testing';
import type { Redis } from 'ioredis';
import * as assert from 'uvu/assert';
import { emptyLedger, evolveLedger } from './ledger.ts';
import { credit, debit, openLedger, refund, type Transfer } from './ledger-steps.ts';

interface Context {
  redisServer: TestRedis;
  redis: Redis;
  prefix: string;
}

const steps = testSuite<Context>('ledger steps', {} as Context);

steps.before(async (ctx) => {
  ctx.redisServer = await startTestRedis();
  ctx.redis = connectRedis(ctx.redisServer.url, 'test', silentLog);
  await untilReady(ctx.redis);
});
steps.before.each((ctx) => {
  ctx.prefix = uniquePrefix();
});
steps.after(async (ctx) => {
  await closeRedis(ctx.redis);
  await ctx.redisServer.dispose();
});

const transfer = (from: string, to: string, amount: number): Transfer => ({ transfer: randomUUID(), from, to, amount });

/** The events on `account`'s ledger, decoded by the one decoder. */
async function eventsOf(ctx: Context, account: string): Promise<LedgerEvent[]> {
  return (await readStream(ctx.redis, ledgerKey(account, ctx.prefix))).map(([id, fields]) => {
    const decoded = decodeEntry(ledgerEvents, fields);
    if (!decoded.ok) throw new Error(`${id}: ${decoded.reason}`);
    return decoded.event;
  });
}

async function balanceOf(ctx: Context, account: string): Promise<number> {
  const ledger = emptyLedger();
  for (const event of await eventsOf(ctx, account)) evolveLedger(ledger, event, '0-1');
  return ledger.balance;
}

steps('opening: once per account, however often it is asked', async (ctx) => {
  const first = await openLedger(ctx.redis, 'john-account', 100, ctx.prefix);
  const again = await openLedger(ctx.redis, 'john-account', 100, ctx.prefix);
  assert.is(first.repeated, false);
  assert.is(again.repeated, true);
  assert.is(again.outcome.position, first.outcome.position);
  assert.equal(await eventsOf(ctx, 'john-account'), [
    { type: 'AccountOpened', data: { account: 'john-account', amount: 100 } },
  ]);
});

steps('a debit that leaves the balance at 0 or more is appended; one that overdraws is declined', async (ctx) => {
  await openLedger(ctx.redis, 'john-account', 100, ctx.prefix);
  const all = transfer('john-account', 'mary-account', 100);
  const more = transfer('john-account', 'mary-account', 1);
  assert.is((await debit(ctx.redis, all, ctx.prefix)).outcome.kind, 'debited');
  const declined = await debit(ctx.redis, more, ctx.prefix);
  assert.is(declined.outcome.kind, 'declined');
  assert.is(await balanceOf(ctx, 'john-account'), 0);
  assert.equal((await eventsOf(ctx, 'john-account')).slice(1), [
    { type: 'Debited', data: { transfer: all.transfer, to: 'mary-account', amount: 100 } },
    {
      type: 'DebitDeclined',
      data: { transfer: more.transfer, to: 'mary-account', amount: 1, reason: 'insufficient-funds' },
    },
  ]);
});

steps('a debit tried again returns its first outcome, forever, even after the balance changed', async (ctx) => {
  await openLedger(ctx.redis, 'john-account', 10, ctx.prefix);
  await openLedger(ctx.redis, 'mary-account', 100, ctx.prefix);
  const big = transfer('john-account', 'mary-account', 50);
  const first = await debit(ctx.redis, big, ctx.prefix);
  assert.is(first.outcome.kind, 'declined');
  // Money arrives: the same transfer's debit stays declined.
  const topUp = transfer('mary-account', 'john-account', 90);
  const topUpDebit = await debit(ctx.redis, topUp, ctx.prefix);
  assert.is(topUpDebit.outcome.kind, 'debited');
  if (topUpDebit.outcome.kind === 'debited') await credit(ctx.redis, topUp, topUpDebit.outcome.position, ctx.prefix);
  const again = await debit(ctx.redis, big, ctx.prefix);
  assert.equal(again, { outcome: first.outcome, repeated: true });
  const ok = transfer('john-account', 'mary-account', 5);
  const debited = await debit(ctx.redis, ok, ctx.prefix);
  assert.equal(await debit(ctx.redis, ok, ctx.prefix), { outcome: debited.outcome, repeated: true });
  assert.is(await balanceOf(ctx, 'john-account'), 95, 'each debit taken once');
});

steps(
  'a debit of an account never opened is refused, appends nothing, and stays refused after it opens',
  async (ctx) => {
    const t = transfer('ghost-account', 'mary-account', 5);
    assert.equal((await debit(ctx.redis, t, ctx.prefix)).outcome, { kind: 'refused', reason: 'unknown-account' });
    assert.equal(await eventsOf(ctx, 'ghost-account'), []);
    await openLedger(ctx.redis, 'ghost-account', 100, ctx.prefix);
    assert.equal(await debit(ctx.redis, t, ctx.prefix), {
      outcome: { kind: 'refused', reason: 'unknown-account' },
      repeated: true,
    });
    assert.is(await balanceOf(ctx, 'ghost-account'), 100);
  },
);

steps('a credit is taken once; one to an account never opened is refused, for good', async (ctx) => {
  await openLedger(ctx.redis, 'mary-account', 100, ctx.prefix);
  const t = transfer('john-account', 'mary-account', 7);
  const first = await credit(ctx.redis, t, '1-1', ctx.prefix);
  assert.is(first.outcome.kind, 'credited');
  assert.equal(await credit(ctx.redis, t, '1-1', ctx.prefix), { outcome: first.outcome, repeated: true });
  assert.is(await balanceOf(ctx, 'mary-account'), 107);
  const lost = transfer('john-account', 'nobody-account', 7);
  assert.is((await credit(ctx.redis, lost, '1-2', ctx.prefix)).outcome.kind, 'refused');
  await openLedger(ctx.redis, 'nobody-account', 0, ctx.prefix);
  assert.is((await credit(ctx.redis, lost, '1-2', ctx.prefix)).outcome.kind, 'refused', 'still refused once opened');
  assert.is(await balanceOf(ctx, 'nobody-account'), 0);
});

steps('a refund gives back a debit once, and only a debit that was made, of its own amount', async (ctx) => {
  await openLedger(ctx.redis, 'john-account', 100, ctx.prefix);
  const t = transfer('john-account', 'nobody-account', 30);
  await debit(ctx.redis, t, ctx.prefix);
  const first = await refund(ctx.redis, t, ctx.prefix);
  assert.equal(await refund(ctx.redis, t, ctx.prefix), { outcome: first.outcome, repeated: true });
  assert.is(await balanceOf(ctx, 'john-account'), 100);
  await assertRejects(() => refund(ctx.redis, transfer('john-account', 'x', 30), ctx.prefix), /no-debit/);
  const other = transfer('john-account', 'nobody-account', 10);
  await debit(ctx.redis, other, ctx.prefix);
  await assertRejects(() => refund(ctx.redis, { ...other, amount: 60 }, ctx.prefix), /amount-mismatch/);
  assert.is(await balanceOf(ctx, 'john-account'), 90);
});

steps('amounts that are not whole numbers >= 1 are refused by the scripts themselves', async (ctx) => {
  await openLedger(ctx.redis, 'john-account', 100, ctx.prefix);
  for (const amount of [0, -5, 1.5]) {
    await assertRejects(
      () => debit(ctx.redis, transfer('john-account', 'mary-account', amount), ctx.prefix),
      /whole number/,
    );
  }
  assert.is(await balanceOf(ctx, 'john-account'), 100);
});

steps('100 concurrent debits of one account never take it below zero', async (ctx) => {
  await openLedger(ctx.redis, 'john-account', 100, ctx.prefix);
  const outcomes = await Promise.all(
    Array.from({ length: 100 }, () => debit(ctx.redis, transfer('john-account', 'mary-account', 7), ctx.prefix)),
  );
  assert.is(outcomes.filter((o) => o.outcome.kind === 'debited').length, 14);
  assert.is(await balanceOf(ctx, 'john-account'), 2);
});

steps.run();
