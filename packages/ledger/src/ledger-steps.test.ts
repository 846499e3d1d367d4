/**
 * The ledger's steps, given/when/then against a real Redis: given a ledger's past steps, when a
 * step is tried, then these events are on the ledger (or none) and this is the outcome. Every rule
 * of the scripts has a case that fails if the rule breaks; after every case each ledger it touched
 * is checked whole (checkLedger: numbered without a gap, laid out as encodeEvent writes, its state
 * hash the fold of its stream).
 */
import { randomUUID } from 'node:crypto';
import {
  type LedgerEvent,
  ledgerEvents,
  ledgerKey,
  ledgerStateKey,
  ledgerStepsKey,
  supplyEvents,
  supplyIssuancesKey,
  supplyKey,
} from '@microbank/events';
import { connectRedis, decodeEntry, silentLog } from '@microbank/streams';
import { assertRejects, type RedisContext, readStream, redisSuite, uniquePrefix } from '@microbank/testing';
import * as assert from 'uvu/assert';
import { checkLedger } from './ledger-check.ts';
import {
  credit,
  debit,
  defineLedgerScript,
  IssuanceChangedError,
  issue,
  openLedger,
  recordIssuance,
  refund,
  type Transfer,
} from './ledger-steps.ts';
import { issueSupply } from './supply.ts';

type Context = RedisContext & { prefix: string };

const steps = redisSuite<{ prefix: string }>('ledger steps', {
  connect: (url) => connectRedis(url, 'test', silentLog),
});

steps.before.each((ctx) => {
  ctx.prefix = uniquePrefix();
});

/**
 * A case, then every ledger it touched checked whole: numbered without a gap, laid out as
 * encodeEvent writes, its state hash the fold of its stream; whatever the case did to it on purpose.
 */
function ledgerCase(name: string, run: (ctx: Context) => Promise<void>): void {
  steps(name, async (ctx) => {
    await run(ctx);
    const streams = await ctx.redis.keys(`${ctx.prefix}:ledger:{*}`);
    for (const stream of streams.filter((key) => key.endsWith('}'))) {
      const account = stream.slice(stream.indexOf('{') + 1, -1);
      assert.equal((await checkLedger(ctx.redis, account, ctx.prefix)).problems, [], `${account}'s ledger is sound`);
    }
  });
}

const transfer = (from: string, to: string, amount: number): Transfer => ({ transfer: randomUUID(), from, to, amount });

/** The bank issues `amount` into `account` (its opening issuance). */
const fund = (ctx: Context, account: string, amount: number) =>
  issueSupply(ctx.redis, { issuance: `opening:${account}`, account, amount }, ctx.prefix);

/** The events on `account`'s ledger, decoded by the one decoder. */
async function eventsOf(ctx: Context, account: string): Promise<LedgerEvent[]> {
  return (await readStream(ctx.redis, ledgerKey(account, ctx.prefix))).map(([id, fields]) => {
    const decoded = decodeEntry(ledgerEvents, fields);
    if (!decoded.ok) throw new Error(`${id}: ${decoded.reason}`);
    return decoded.event;
  });
}

async function balanceOf(ctx: Context, account: string): Promise<number> {
  return (await checkLedger(ctx.redis, account, ctx.prefix)).ledger.balance;
}

/** Everything Redis holds for `account`'s ledger: its entries, its state, its steps. */
async function everything(ctx: Context, account: string) {
  return {
    entries: await readStream(ctx.redis, ledgerKey(account, ctx.prefix)),
    state: await ctx.redis.hgetall(ledgerStateKey(account, ctx.prefix)),
    steps: await ctx.redis.hgetall(ledgerStepsKey(account, ctx.prefix)),
  };
}

/** Runs `attempt`, which must be refused with `pattern`, and checks that nothing of `account` changed. */
async function refusedUnchanged(ctx: Context, account: string, attempt: () => Promise<unknown>, pattern: RegExp) {
  const before = await everything(ctx, account);
  await assertRejects(attempt, pattern);
  const after = await everything(ctx, account);
  const written = { entries: after.entries.slice(before.entries.length), state: after.state, steps: after.steps };
  assert.ok(JSON.stringify(after) === JSON.stringify(before), `written for ${pattern}: ${JSON.stringify(written)}`);
}

/** The scripts called with raw arguments, as a caller that does not go through ledger-steps.ts could. */
type Raw = Record<string, (...args: string[]) => Promise<[string, string]>>;
function raw(ctx: Context): Raw {
  defineLedgerScript(ctx.redis, 'debitLedger', 'debit-3.lua');
  defineLedgerScript(ctx.redis, 'creditLedger', 'credit-3.lua');
  defineLedgerScript(ctx.redis, 'openLedger', 'open-ledger-2.lua');
  defineLedgerScript(ctx.redis, 'issueLedger', 'issue-3.lua');
  defineLedgerScript(ctx.redis, 'recordIssuance', 'record-issuance-2.lua');
  return ctx.redis as unknown as Raw;
}
const keys = (ctx: Context, account: string) => [
  ledgerKey(account, ctx.prefix),
  ledgerStateKey(account, ctx.prefix),
  ledgerStepsKey(account, ctx.prefix),
];

ledgerCase('opening: once per account, however often it is asked, with no money and seq 1', async (ctx) => {
  const first = await openLedger(ctx.redis, 'john-account', ctx.prefix);
  const again = await openLedger(ctx.redis, 'john-account', ctx.prefix);
  assert.is(first.repeated, false);
  assert.is(again.repeated, true);
  assert.is(again.outcome.position, first.outcome.position);
  assert.equal(await eventsOf(ctx, 'john-account'), [
    { type: 'AccountOpened', data: { account: 'john-account', seq: 1 } },
  ]);
  assert.is(await balanceOf(ctx, 'john-account'), 0);
});

ledgerCase(
  'issuing: recorded on the supply stream once, issued into the ledger once, opening it first',
  async (ctx) => {
    const opening = { issuance: 'opening:john-account', account: 'john-account', amount: 100 };
    const first = await issueSupply(ctx.redis, opening, ctx.prefix);
    const again = await issueSupply(ctx.redis, opening, ctx.prefix);
    assert.equal([first.recorded.repeated, first.issued.repeated], [false, false]);
    assert.equal(again, {
      recorded: { ...first.recorded, repeated: true },
      issued: { ...first.issued, repeated: true },
    });
    assert.equal(await eventsOf(ctx, 'john-account'), [
      { type: 'AccountOpened', data: { account: 'john-account', seq: 1 } },
      { type: 'Issued', data: { issuance: 'opening:john-account', amount: 100, seq: 2 } },
    ]);
    const supply = (await readStream(ctx.redis, supplyKey(ctx.prefix))).map(([, fields]) =>
      decodeEntry(supplyEvents, fields),
    );
    assert.equal(supply, [{ ok: true, event: { type: 'SupplyIssued', data: opening } }]);
    // A second issuance into an open ledger: numbered on.
    await issueSupply(ctx.redis, { issuance: 'gift-1', account: 'john-account', amount: 5 }, ctx.prefix);
    assert.equal((await eventsOf(ctx, 'john-account'))[2], {
      type: 'Issued',
      data: { issuance: 'gift-1', amount: 5, seq: 3 },
    });
    const checked = await checkLedger(ctx.redis, 'john-account', ctx.prefix);
    assert.equal([checked.ledger.balance, checked.ledger.issued, checked.ledger.seq], [105, 105, 3]);
  },
);

ledgerCase('an issuance cannot be changed: not on the supply stream, not on the ledger', async (ctx) => {
  const opening = { issuance: 'opening:john-account', account: 'john-account', amount: 100 };
  await issueSupply(ctx.redis, opening, ctx.prefix);
  const supplyBefore = await readStream(ctx.redis, supplyKey(ctx.prefix));
  for (const changed of [
    { ...opening, amount: 1_000 },
    { ...opening, account: 'mary-account' },
  ]) {
    await assertRejects(() => issueSupply(ctx.redis, changed, ctx.prefix), /cannot be changed/);
  }
  // Straight to the ledger's step, past the supply stream: the ledger keeps its first amount too.
  await refusedUnchanged(
    ctx,
    'john-account',
    () => issue(ctx.redis, { ...opening, amount: 7 }, ctx.prefix),
    /cannot be changed/,
  );
  assert.equal(await readStream(ctx.redis, supplyKey(ctx.prefix)), supplyBefore);
  assert.equal(await eventsOf(ctx, 'mary-account'), []);
  assert.is(await balanceOf(ctx, 'john-account'), 100);
  assert.instance(
    await recordIssuance(ctx.redis, { ...opening, amount: 2 }, ctx.prefix).catch((error: unknown) => error),
    IssuanceChangedError,
  );
});

ledgerCase('a debit that leaves the balance at 0 or more is appended; one that overdraws is declined', async (ctx) => {
  await fund(ctx, 'john-account', 100);
  const all = transfer('john-account', 'mary-account', 100);
  const more = transfer('john-account', 'mary-account', 1);
  assert.is((await debit(ctx.redis, all, ctx.prefix)).outcome.kind, 'debited');
  const declined = await debit(ctx.redis, more, ctx.prefix);
  assert.is(declined.outcome.kind, 'declined');
  assert.is(await balanceOf(ctx, 'john-account'), 0);
  assert.equal((await eventsOf(ctx, 'john-account')).slice(2), [
    { type: 'Debited', data: { transfer: all.transfer, to: 'mary-account', amount: 100, seq: 3 } },
    {
      type: 'DebitDeclined',
      data: { transfer: more.transfer, to: 'mary-account', amount: 1, reason: 'insufficient-funds', seq: 4 },
    },
  ]);
});

ledgerCase('a debit tried again returns its first outcome, forever, even after the balance changed', async (ctx) => {
  await fund(ctx, 'john-account', 10);
  await fund(ctx, 'mary-account', 100);
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

ledgerCase(
  'a debit of an account never opened is refused, appends nothing, and stays refused after it opens',
  async (ctx) => {
    const t = transfer('ghost-account', 'mary-account', 5);
    assert.equal((await debit(ctx.redis, t, ctx.prefix)).outcome, { kind: 'refused', reason: 'unknown-account' });
    assert.equal(await eventsOf(ctx, 'ghost-account'), []);
    await fund(ctx, 'ghost-account', 100);
    assert.equal(await debit(ctx.redis, t, ctx.prefix), {
      outcome: { kind: 'refused', reason: 'unknown-account' },
      repeated: true,
    });
    assert.is(await balanceOf(ctx, 'ghost-account'), 100);
  },
);

ledgerCase('a credit is taken once; one to an account never opened is refused, for good', async (ctx) => {
  await fund(ctx, 'mary-account', 100);
  const t = transfer('john-account', 'mary-account', 7);
  const first = await credit(ctx.redis, t, '1-1', ctx.prefix);
  assert.is(first.outcome.kind, 'credited');
  assert.equal(await credit(ctx.redis, t, '1-1', ctx.prefix), { outcome: first.outcome, repeated: true });
  assert.is(await balanceOf(ctx, 'mary-account'), 107);
  assert.equal((await eventsOf(ctx, 'mary-account'))[2], {
    type: 'Credited',
    data: { transfer: t.transfer, from: 'john-account', amount: 7, debit: '1-1', seq: 3 },
  });
  const lost = transfer('john-account', 'nobody-account', 7);
  assert.is((await credit(ctx.redis, lost, '1-2', ctx.prefix)).outcome.kind, 'refused');
  await openLedger(ctx.redis, 'nobody-account', ctx.prefix);
  assert.is((await credit(ctx.redis, lost, '1-2', ctx.prefix)).outcome.kind, 'refused', 'still refused once opened');
  assert.is(await balanceOf(ctx, 'nobody-account'), 0);
});

ledgerCase('a refund gives back a debit once, and only a debit that was made, of its own amount', async (ctx) => {
  await fund(ctx, 'john-account', 100);
  const t = transfer('john-account', 'nobody-account', 30);
  await debit(ctx.redis, t, ctx.prefix);
  const first = await refund(ctx.redis, t, ctx.prefix);
  assert.equal(await refund(ctx.redis, t, ctx.prefix), { outcome: first.outcome, repeated: true });
  assert.is(await balanceOf(ctx, 'john-account'), 100);
  assert.equal((await eventsOf(ctx, 'john-account'))[3], {
    type: 'Refunded',
    data: { transfer: t.transfer, to: 'nobody-account', amount: 30, reason: 'unknown-account', seq: 4 },
  });
  await assertRejects(() => refund(ctx.redis, transfer('john-account', 'x', 30), ctx.prefix), /no-debit/);
  const other = transfer('john-account', 'nobody-account', 10);
  await debit(ctx.redis, other, ctx.prefix);
  await assertRejects(() => refund(ctx.redis, { ...other, amount: 60 }, ctx.prefix), /amount-mismatch/);
  assert.is(await balanceOf(ctx, 'john-account'), 90);
});

ledgerCase(
  'amounts that are not whole numbers from 1 to 10^12, as JSON writes them, are refused by the scripts',
  async (ctx) => {
    await fund(ctx, 'john-account', 100);
    for (const amount of [0, -5, 1.5, 1_000_000_000_001, 1e21, Number.NaN]) {
      await refusedUnchanged(
        ctx,
        'john-account',
        () => debit(ctx.redis, transfer('john-account', 'mary-account', amount), ctx.prefix),
        /whole number from 1 to 10\^12/,
      );
    }
    const t = transfer('john-account', 'mary-account', 1);
    for (const amount of ['01', '1e3', '1.0', '+1', ' 1', '1 ', '', '99999999999999', '1000000000001', '0x10']) {
      for (const [script, extra] of [
        ['debitLedger', []],
        ['creditLedger', ['1-1']],
      ] as const) {
        await refusedUnchanged(
          ctx,
          'john-account',
          () =>
            raw(ctx)[script]?.(...keys(ctx, 'john-account'), t.transfer, t.to, amount, ...extra) ?? Promise.resolve(),
          /whole number from 1 to 10\^12/,
        );
      }
    }
    assert.is(await balanceOf(ctx, 'john-account'), 100);
  },
);

ledgerCase('transfer IDs, account names and debit positions are checked before anything is written', async (ctx) => {
  await fund(ctx, 'john-account', 100);
  const t = transfer('john-account', 'mary-account', 1);
  const debitWith = (transferId: string, to: string) => () =>
    raw(ctx).debitLedger?.(...keys(ctx, 'john-account'), transferId, to, '1') ?? Promise.resolve();
  for (const id of ['not-a-uuid', '3f2b8c1e-9a4d-9e7f-8b21-6c5d4e3f2a1b', `${t.transfer}x`, '', `${t.transfer}"`]) {
    await refusedUnchanged(ctx, 'john-account', debitWith(id, 'mary-account'), /transfer ID must be a UUID/);
  }
  // A name that would write other JSON into the event, if the script trusted it.
  for (const to of ['Mary', '-mary', 'mary-', 'a'.repeat(64), '', 'mary","amount":1000000,"x":"', 'mary\n']) {
    await refusedUnchanged(ctx, 'john-account', debitWith(t.transfer, to), /must be an account name/);
  }
  await refusedUnchanged(ctx, 'john-account', debitWith(t.transfer, 'john-account'), /same account/);
  await refusedUnchanged(
    ctx,
    'john-account',
    () => credit(ctx.redis, { ...t, to: 'john-account', from: 'mary-account' }, 'x"', ctx.prefix),
    /debit must be a stream entry ID/,
  );
  // Keys that are not one ledger's stream, state and steps.
  const [stream, state, stepsKey] = keys(ctx, 'john-account') as [string, string, string];
  for (const wrong of [
    [stream, ledgerStateKey('mary-account', ctx.prefix), stepsKey],
    [stream, state, ledgerStepsKey('mary-account', ctx.prefix)],
    [`${ctx.prefix}:elsewhere`, state, stepsKey],
  ]) {
    await refusedUnchanged(
      ctx,
      'john-account',
      () => raw(ctx).debitLedger?.(...wrong, t.transfer, 'mary-account', '1') ?? Promise.resolve(),
      /KEYS\[1\] is not|not the ledger stream, state and steps/,
    );
  }
  await refusedUnchanged(
    ctx,
    'john-account',
    () => raw(ctx).openLedger?.(stream, state, 'mary-account') ?? Promise.resolve(),
    /not the ledger's/,
  );
  await refusedUnchanged(
    ctx,
    'john-account',
    () => raw(ctx).issueLedger?.(stream, state, stepsKey, 'x', 'mary-account', '5') ?? Promise.resolve(),
    /not the ledger's/,
  );
  for (const id of ['', 'a b', 'a"b', 'x'.repeat(81), 'é']) {
    await refusedUnchanged(
      ctx,
      'john-account',
      () => raw(ctx).issueLedger?.(stream, state, stepsKey, id, 'john-account', '5') ?? Promise.resolve(),
      /issuance ID must be/,
    );
  }
  await assertRejects(
    () =>
      raw(ctx).recordIssuance?.(ledgerKey('x', ctx.prefix), supplyIssuancesKey(ctx.prefix), 'i', 'x', '1') ??
      Promise.resolve(),
    /not the supply stream/,
  );
  await assertRejects(
    () =>
      raw(ctx).recordIssuance?.(supplyKey(ctx.prefix), supplyIssuancesKey(ctx.prefix), 'i', 'X"', '1') ??
      Promise.resolve(),
    /must be an account name/,
  );
  assert.is(await ctx.redis.exists(supplyKey(ctx.prefix)), 1, 'only the funding is on the supply stream');
  assert.is(await ctx.redis.xlen(supplyKey(ctx.prefix)), 1);
});

ledgerCase(
  'a state hash that does not read (no balance, not a number, a bad seq) is refused before any append',
  async (ctx) => {
    await fund(ctx, 'john-account', 100);
    const state = ledgerStateKey('john-account', ctx.prefix);
    const good = await ctx.redis.hgetall(state);
    const t = transfer('john-account', 'mary-account', 1);
    const back = transfer('mary-account', 'john-account', 1);
    for (const [field, value] of [
      ['balance', undefined],
      ['balance', 'lots'],
      ['balance', '-5'],
      ['balance', '1.5'],
      ['balance', '007'],
      ['balance', '9007199254740992'],
      ['seq', 'x'],
      ['seq', '0'],
      ['opened', 'yes'],
    ] as const) {
      if (value === undefined) await ctx.redis.hdel(state, field);
      else await ctx.redis.hset(state, field, value);
      for (const attempt of [
        () => debit(ctx.redis, t, ctx.prefix),
        () => credit(ctx.redis, back, '1-1', ctx.prefix),
        () => issueSupply(ctx.redis, { issuance: 'more', account: 'john-account', amount: 1 }, ctx.prefix),
      ]) {
        await refusedUnchanged(ctx, 'john-account', attempt, /the ledger state's/);
      }
      await ctx.redis.hset(state, good);
    }
    // A credit that would take the balance past 2^53 - 1: refused, the balance stays exact.
    await ctx.redis.hset(state, 'balance', String(Number.MAX_SAFE_INTEGER - 1));
    await refusedUnchanged(
      ctx,
      'john-account',
      () => credit(ctx.redis, { ...back, amount: 2 }, '1-1', ctx.prefix),
      /would pass 2\^53/,
    );
    await ctx.redis.hset(state, good);
    // A state lost while its stream stayed: the ledger is not opened a second time.
    await ctx.redis.del(state);
    await refusedUnchanged(
      ctx,
      'john-account',
      () => openLedger(ctx.redis, 'john-account', ctx.prefix),
      /never opened/,
    );
    await ctx.redis.hset(state, good);
  },
);

ledgerCase(
  'keys of another type are refused before any append (the hashes are read before the first write)',
  async (ctx) => {
    await fund(ctx, 'john-account', 100);
    const stepsKey = ledgerStepsKey('john-account', ctx.prefix);
    const saved = await ctx.redis.hgetall(stepsKey);
    await ctx.redis.del(stepsKey);
    await ctx.redis.set(stepsKey, 'not a hash');
    const entries = await readStream(ctx.redis, ledgerKey('john-account', ctx.prefix));
    const state = await ctx.redis.hgetall(ledgerStateKey('john-account', ctx.prefix));
    await assertRejects(() => debit(ctx.redis, transfer('john-account', 'mary-account', 1), ctx.prefix), /WRONGTYPE/);
    assert.equal(await readStream(ctx.redis, ledgerKey('john-account', ctx.prefix)), entries);
    assert.equal(await ctx.redis.hgetall(ledgerStateKey('john-account', ctx.prefix)), state);
    await ctx.redis.del(stepsKey);
    await ctx.redis.hset(stepsKey, saved);
  },
);

ledgerCase(
  'a ledger opened before entries were numbered goes on from its length, with v1 entries still read',
  async (ctx) => {
    const [stream, state] = keys(ctx, 'old-account') as [string, string];
    const opened = await ctx.redis.xadd(
      stream,
      '*',
      'type',
      'AccountOpened',
      'v',
      '1',
      'data',
      JSON.stringify({ account: 'old-account', amount: 100 }),
    );
    const t = transfer('old-account', 'mary-account', 30);
    await ctx.redis.xadd(stream, '*', 'type', 'Debited', 'v', '1', 'data', JSON.stringify({ ...t, from: undefined }));
    await ctx.redis.hset(state, 'opened', opened ?? '', 'balance', '70');
    await debit(ctx.redis, transfer('old-account', 'mary-account', 20), ctx.prefix);
    const events = await eventsOf(ctx, 'old-account');
    assert.equal(
      events.map((event) => [event.type, event.data.seq]),
      [
        ['AccountOpened', undefined],
        ['Debited', undefined],
        ['Debited', 3],
      ],
    );
    const checked = await checkLedger(ctx.redis, 'old-account', ctx.prefix);
    assert.equal([checked.ledger.balance, checked.ledger.issued, checked.ledger.seq], [50, 100, 3]);
  },
);

ledgerCase(
  '100 concurrent debits of one account never take it below zero, and number their entries in order',
  async (ctx) => {
    await fund(ctx, 'john-account', 100);
    const outcomes = await Promise.all(
      Array.from({ length: 100 }, () => debit(ctx.redis, transfer('john-account', 'mary-account', 7), ctx.prefix)),
    );
    assert.is(outcomes.filter((o) => o.outcome.kind === 'debited').length, 14);
    assert.is(await balanceOf(ctx, 'john-account'), 2);
    assert.is((await checkLedger(ctx.redis, 'john-account', ctx.prefix)).ledger.seq, 102);
  },
);

steps.run();
