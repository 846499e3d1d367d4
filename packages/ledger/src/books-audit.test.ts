/**
 * The books' audit against a real Redis: each fault is made once, on purpose, the way someone
 * with access to Redis could make it, and the audit must name it; the sound books around it stay
 * green. The faults: a credit deleted and the state adjusted to match, a second debit of a settled
 * transfer, a completed transfer whose credit is not there, a debit never credited (stuck), money
 * issued into a ledger that the supply stream never issued, steps forged or deleted; and the
 * checkpoint, the same for two books over the same streams and for a faithful copy, another for a
 * copy with one entry rewritten.
 */
import { randomUUID } from 'node:crypto';
import {
  accountEvents,
  compactionKey,
  ledgerEvents,
  ledgerKey,
  ledgerStateKey,
  ledgerStepsKey,
  streamKey,
  supplyKey,
  transferEvents,
  transfersKey,
} from '@microbank/events';
import {
  appendEvent,
  compareStreamIds,
  encodeEvent,
  type StreamId,
  silentLog,
  streamIdMillis,
} from '@microbank/streams';
import { nextMillisecond, type RedisContext, redisSuite, uniquePrefix, waitFor } from '@microbank/testing';
import { Redis } from 'ioredis';
import * as assert from 'uvu/assert';
import { type AuditFigures, CLOCK_MARGIN_MS, type Violation } from './audit.ts';
import { type Books, type BooksOptions, startBooks } from './books.ts';
import { credit, debit, issue, type Transfer } from './ledger-steps.ts';
import { issueSupply } from './supply.ts';

type Context = RedisContext & { opened: Books[] };

const books = redisSuite<{ opened: Books[] }>('books audit', {
  connect: (url) => new Redis(url),
  extra: { opened: [] },
});
const log = silentLog;

books.after.each(async (ctx) => {
  for (const opened of ctx.opened.splice(0)) await opened.close();
});

function startAudit(ctx: Context, prefix: string, options: Partial<BooksOptions> = {}): Books {
  const started = startBooks({
    redisAt: ctx.redisServer.url,
    log,
    name: 'books',
    prefix,
    stateCheckMs: 100,
    ...options,
  });
  ctx.opened.push(started);
  return started;
}

/** The bank's writers, as the account, the transfer API and the processor write. */
function bank(redis: Redis, prefix: string) {
  const b = {
    async open(account: string, amount = 100) {
      await issueSupply(redis, { issuance: `opening:${account}`, account, amount }, prefix);
      await appendEvent(redis, streamKey('accounts', prefix), accountEvents, {
        type: 'AccountRegistered',
        data: { account, url: 'http://127.0.0.1:1', instance: 't', registeredAt: new Date().toISOString() },
      });
    },
    async request(from: string, to: string, amount: number): Promise<Transfer> {
      const t = { transfer: randomUUID(), from, to, amount };
      const requested = await appendEvent(redis, transfersKey(prefix), transferEvents, {
        type: 'TransferRequested',
        data: { ...t, key: t.transfer, requestedAt: new Date().toISOString() },
      });
      return { ...t, requested };
    },
    async debit(t: Transfer): Promise<StreamId> {
      const { outcome } = await debit(redis, t, prefix);
      if (outcome.kind !== 'debited') throw new Error(`not debited: ${outcome.kind}`);
      return outcome.position;
    },
    async credit(t: Transfer, debitAt: StreamId): Promise<StreamId> {
      const { outcome } = await credit(redis, t, debitAt, prefix);
      if (outcome.kind !== 'credited') throw new Error(`not credited: ${outcome.kind}`);
      return outcome.position;
    },
    complete: (t: Transfer, debitAt: StreamId, creditAt: StreamId) =>
      appendEvent(redis, transfersKey(prefix), transferEvents, {
        type: 'TransferCompleted',
        data: { transfer: t.transfer, debit: debitAt, credit: creditAt },
      }),
    async transfer(from: string, to: string, amount: number) {
      const t = await b.request(from, to, amount);
      const debitAt = await b.debit(t);
      const creditAt = await b.credit(t, debitAt);
      await b.complete(t, debitAt, creditAt);
      return { t, debitAt, creditAt };
    },
    /** Every stream's last entry ID, named as the checkpoint names them. */
    async ends(accounts: string[]): Promise<Record<string, StreamId>> {
      const ends: Record<string, StreamId> = {};
      const keys: Array<[string, string]> = [
        ...accounts.map((a) => [`ledger:{${a}}`, ledgerKey(a, prefix)] as [string, string]),
        ['{transfers}', transfersKey(prefix)],
        ['{supply}', supplyKey(prefix)],
      ];
      for (const [name, key] of keys) {
        const last = (await redis.xrevrange(key, '+', '-', 'COUNT', 1))[0]?.[0];
        if (last) ends[name] = last;
      }
      return ends;
    },
  };
  return b;
}

const JOHN = 'john-account';
const MARY = 'mary-account';

/** The audit once it has read `ends` (every stream's last entry), checkpoint included. */
const readTo = (audit: Books, ends: Record<string, StreamId>) =>
  waitFor(
    'the books to read every stream to its end',
    () => audit.audit.figures(),
    (f) => JSON.stringify(f.checkpoint?.positions) === JSON.stringify(sorted(ends)),
    { timeoutMs: 20_000 },
  );
const sorted = (record: Record<string, string>) =>
  Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : 1)));

const violationsOf = (audit: Books) => audit.audit.figures().violations.first;
const untilViolation = (audit: Books, what: string, found: (v: Violation) => boolean) =>
  waitFor(
    `a violation: ${what}`,
    () => audit.audit.figures(),
    (f) => f.violations.first.some(found),
    {
      timeoutMs: 20_000,
    },
  );
const describe = (f: AuditFigures) => JSON.stringify(f.violations.first);

/**
 * Copies every key of `from` to `to`, streams with their entry IDs: a copy of the books, or a
 * forged one when `edit` rewrites (or drops, returning undefined) an entry's fields.
 */
async function copyBank(
  redis: Redis,
  from: string,
  to: string,
  edit: (key: string, id: StreamId, fields: string[]) => string[] | undefined = (_k, _i, fields) => fields,
): Promise<void> {
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'MATCH', `${from}:*`, 'COUNT', 1_000);
    cursor = next;
    keys.push(...found);
  } while (cursor !== '0');
  for (const key of keys) {
    const target = `${to}${key.slice(from.length)}`;
    const type = await redis.type(key);
    if (type === 'stream') {
      for (const [id, fields] of await redis.xrange(key, '-', '+')) {
        const kept = edit(key, id, fields);
        if (kept) await redis.xadd(target, id, ...kept);
      }
    } else if (type === 'hash') {
      await redis.hset(target, await redis.hgetall(key));
    }
  }
}

books('a sound bank is conserved, and every check stays quiet through several state checks', async (ctx) => {
  const prefix = uniquePrefix();
  const b = bank(ctx.redis, prefix);
  const audit = startAudit(ctx, prefix);
  await b.open(JOHN);
  await b.open(MARY);
  for (let i = 0; i < 5; i++) await b.transfer(i % 2 ? MARY : JOHN, i % 2 ? JOHN : MARY, 10 + i);
  const figures = await readTo(audit, await b.ends([JOHN, MARY]));
  for (let pass = 0; pass < 3; pass++) await audit.stateCheck.pass();
  const after = audit.audit.figures();
  assert.ok(after.conserved, describe(after));
  assert.equal(
    [figures.supply.total, after.balances, after.transfers, after.stuck.transfers],
    [200, 200, { requested: 5, completed: 5, rejected: 0, pending: 0 }, 0],
  );
});

books(
  'a credit deleted (XDEL) and its state adjusted to match: named by ledger and gap, live and rebuilt; green only when repaired',
  async (ctx) => {
    const prefix = uniquePrefix();
    const b = bank(ctx.redis, prefix);
    const live = startAudit(ctx, prefix);
    await b.open(JOHN);
    await b.open(MARY);
    const first = await b.transfer(JOHN, MARY, 10);
    await b.transfer(JOHN, MARY, 5);
    await readTo(live, await b.ends([JOHN, MARY]));
    assert.ok(live.audit.figures().conserved);
    // The fault: mary's first credit deleted, her balance taken down to match.
    const [deleted] = await ctx.redis.xrange(ledgerKey(MARY, prefix), first.creditAt, first.creditAt);
    await ctx.redis.xdel(ledgerKey(MARY, prefix), first.creditAt);
    await ctx.redis.hincrby(ledgerStateKey(MARY, prefix), 'balance', -10);
    // The live books folded the credit: the kept balance no longer matches the fold.
    await untilViolation(
      live,
      'the kept balance',
      (v) => v.ledger === MARY && /script-kept balance is 105/.test(v.reason),
    );
    assert.not.ok(live.audit.figures().conserved);
    // Rebuilt from the streams: the gap itself, and the completed transfer whose credit is gone.
    const rebuilt = startAudit(ctx, prefix);
    const figures = await untilViolation(rebuilt, 'the gap', (v) => v.ledger === MARY && /seq jumps/.test(v.reason));
    const gap = figures.violations.first.find((v) => /seq jumps/.test(v.reason));
    assert.equal(gap?.reason, 'seq jumps from 2 to 4: entries 3 are missing (deleted, or unreadable)');
    assert.ok(
      figures.violations.first.some((v) => v.transfer === first.t.transfer && /holds no credit of it/.test(v.reason)),
      describe(figures),
    );
    // Repaired (a copy with the entry back and the balance as it was): green again.
    const repaired = uniquePrefix('repaired');
    let restored = false;
    await copyBank(ctx.redis, prefix, repaired, (key, id, fields) => {
      if (!restored && key === ledgerKey(MARY, prefix) && compareStreamIds(id, first.creditAt) > 0) {
        restored = true;
        void ctx.redis.xadd(ledgerKey(MARY, repaired), first.creditAt, ...(deleted as [string, string[]])[1]);
      }
      return fields;
    });
    // xadd calls on one connection run in order: the restored entry lands before the next one.
    await ctx.redis.hincrby(ledgerStateKey(MARY, repaired), 'balance', 10);
    const green = startAudit(ctx, repaired);
    const ends = await bank(ctx.redis, repaired).ends([JOHN, MARY]);
    const repairedFigures = await readTo(green, ends);
    for (let pass = 0; pass < 2; pass++) await green.stateCheck.pass();
    assert.ok(restored);
    assert.ok(green.audit.figures().conserved, describe(repairedFigures));
  },
);

books('a second Debited for a settled transfer, numbered and kept as the script would: a violation', async (ctx) => {
  const prefix = uniquePrefix();
  const b = bank(ctx.redis, prefix);
  const audit = startAudit(ctx, prefix);
  await b.open(JOHN);
  await b.open(MARY);
  const { t } = await b.transfer(JOHN, MARY, 10);
  await readTo(audit, await b.ends([JOHN, MARY]));
  assert.ok(audit.audit.figures().conserved);
  const state = ledgerStateKey(JOHN, prefix);
  const seq = Number(await ctx.redis.hget(state, 'seq')) + 1;
  await ctx.redis.xadd(
    ledgerKey(JOHN, prefix),
    '*',
    ...encodeEvent(ledgerEvents, { type: 'Debited', data: { transfer: t.transfer, to: MARY, amount: 10, seq } }),
  );
  await ctx.redis.hset(state, 'seq', seq);
  await ctx.redis.hincrby(state, 'balance', -10);
  const figures = await untilViolation(audit, 'the second debit', (v) => v.transfer === t.transfer);
  assert.equal(
    figures.violations.first.find((v) => v.transfer === t.transfer && v.ledger === JOHN)?.reason,
    'debited 10 after the transfer had settled',
  );
  assert.not.ok(figures.conserved);
});

books(
  'a TransferCompleted whose credit is missing: a violation once mary`s ledger is read past it, or seen to end before it',
  async (ctx) => {
    const prefix = uniquePrefix();
    const b = bank(ctx.redis, prefix);
    const audit = startAudit(ctx, prefix, { stateCheckMs: 0 });
    await b.open(JOHN);
    await b.open(MARY);
    const t = await b.request(JOHN, MARY, 10);
    const debitAt = await b.debit(t);
    // The position just after mary's last entry: her next entry is there or after it.
    const [lastOfMary = ''] = (await ctx.redis.xrevrange(ledgerKey(MARY, prefix), '+', '-', 'COUNT', 1))[0] ?? [];
    const [ms, seq] = lastOfMary.split('-');
    const missing = `${ms}-${Number(seq) + 1}`;
    await b.complete(t, debitAt, missing);
    const waiting = await waitFor(
      'the completion read',
      () => audit.audit.figures(),
      (f) => f.transfers.completed === 1,
    );
    assert.is(waiting.violations.count, 0, 'not before the cut');
    assert.is(waiting.transfers.pending, 1);
    // Mary's ledger goes past that position.
    const u = await b.request(MARY, JOHN, 1);
    await b.debit(u);
    const figures = await untilViolation(audit, 'the missing credit', (v) => v.transfer === t.transfer);
    assert.equal(figures.violations.first[0], {
      ledger: MARY,
      transfer: t.transfer,
      at: missing,
      reason: `completed naming its credit at ${missing}, but ${MARY}'s ledger holds no credit of it`,
    });
    // Another completion naming a credit past the end of mary's ledger, which nothing passes: the
    // kept state, read with the ledger's last entry, shows that end.
    const v = await b.request(JOHN, MARY, 3);
    const vDebit = await b.debit(v);
    await b.complete(v, vDebit, '99999999999999-0');
    await waitFor(
      'the second completion read',
      () => audit.audit.figures(),
      (f) => f.transfers.completed === 2,
    );
    await audit.stateCheck.pass();
    await untilViolation(audit, 'the credit past the end', (found) => found.transfer === v.transfer);
  },
);

books(
  'a debit never credited is stuck after the limit (shown, counted, not a violation), and no longer once settled',
  async (ctx) => {
    const prefix = uniquePrefix();
    const b = bank(ctx.redis, prefix);
    const audit = startAudit(ctx, prefix, { stuckAfterMs: 300 });
    await b.open(JOHN);
    await b.open(MARY);
    const t = await b.request(JOHN, MARY, 10);
    const debitAt = await b.debit(t);
    const stuck = await waitFor(
      'the transfer stuck',
      () => audit.audit.figures(),
      (f) => f.stuck.transfers === 1,
    );
    assert.equal(stuck.stuck.first[0]?.transfer, t.transfer);
    assert.equal(stuck.stuck.first[0]?.waiting, 'a credit or a refund');
    assert.ok((stuck.stuck.first[0]?.ageMs ?? 0) >= 300);
    assert.ok(stuck.conserved, describe(stuck));
    assert.equal(stuck.inFlight, { amount: 10, transfers: 1 });
    await b.complete(t, debitAt, await b.credit(t, debitAt));
    const settled = await waitFor(
      'the transfer settled',
      () => audit.audit.figures(),
      (f) => f.transfers.pending === 0,
    );
    assert.equal([settled.stuck.transfers, settled.conserved], [0, true]);
  },
);

books(
  'money issued into a ledger without a SupplyIssued: a violation naming the ledger and the issuance',
  async (ctx) => {
    const prefix = uniquePrefix();
    const b = bank(ctx.redis, prefix);
    const audit = startAudit(ctx, prefix);
    await b.open(JOHN);
    await issueSupply(ctx.redis, { issuance: 'bonus-1', account: JOHN, amount: 50 }, prefix);
    const sound = await readTo(audit, await b.ends([JOHN]));
    assert.equal([sound.supply.issued, sound.balances, sound.conserved], [150, 150, true]);
    const { outcome: at } = await issue(ctx.redis, { issuance: 'bonus-2', account: JOHN, amount: 1_000 }, prefix);
    const figures = await untilViolation(audit, 'the unissued money', (v) => v.issuance === 'bonus-2');
    assert.equal(figures.violations.first, [
      { ledger: JOHN, issuance: 'bonus-2', at, reason: 'issued 1000 for an issuance the supply stream does not hold' },
    ]);
    assert.not.ok(figures.conserved);
  },
);

books(
  'the steps hash: a step deleted, or one naming an entry the ledger does not hold, is a violation',
  async (ctx) => {
    const prefix = uniquePrefix();
    const b = bank(ctx.redis, prefix);
    const audit = startAudit(ctx, prefix);
    await b.open(JOHN);
    await b.open(MARY);
    const { t } = await b.transfer(JOHN, MARY, 10);
    await readTo(audit, await b.ends([JOHN, MARY]));
    for (let pass = 0; pass < 2; pass++) await audit.stateCheck.pass();
    assert.is(audit.audit.figures().violations.count, 0);
    // Deleted: john's debit step, which is what keeps a redelivered debit from debiting again.
    await ctx.redis.hdel(ledgerStepsKey(JOHN, prefix), `debit:${t.transfer}`);
    await untilViolation(
      audit,
      'the deleted step',
      (v) => v.ledger === JOHN && /steps hash holds 1 steps, the stream 2/.test(v.reason),
    );
    // Forged: a credit step of mary's naming her opening.
    const forged = randomUUID();
    const [opening = ''] = (await ctx.redis.xrange(ledgerKey(MARY, prefix), '-', '+', 'COUNT', 1))[0] ?? [];
    await ctx.redis.hset(ledgerStepsKey(MARY, prefix), `credit:${forged}`, `credited ${opening}`);
    const figures = await untilViolation(audit, 'the forged step', (v) => v.transfer === forged);
    assert.equal(
      figures.violations.first.find((v) => v.transfer === forged)?.reason,
      `the steps hash holds credit:${forged} -> credited ${opening}, naming entry ${opening}, which is AccountOpened, not Credited`,
    );
    assert.equal(violationsOf(audit).length, 2, describe(audit.audit.figures()));
  },
);

books(
  'an entry of a ledger that does not read (a forged Credited v2 without its seq) is a violation, not skipped',
  async (ctx) => {
    const prefix = uniquePrefix();
    const b = bank(ctx.redis, prefix);
    const audit = startAudit(ctx, prefix);
    await b.open(JOHN);
    await readTo(audit, await b.ends([JOHN]));
    assert.ok(audit.audit.figures().conserved);
    const forged = JSON.stringify({ transfer: randomUUID(), from: MARY, amount: 1_000, debit: '1-0' });
    const at = await ctx.redis.xadd(ledgerKey(JOHN, prefix), '*', 'type', 'Credited', 'v', '2', 'data', forged);
    const figures = await untilViolation(audit, 'the unreadable entry', (v) => v.at === at);
    assert.equal(figures.violations.first, [
      {
        ledger: JOHN,
        at,
        reason: `an entry of ledger:{${JOHN}} that does not read: invalid Credited v2: seq: Invalid input: expected number, received undefined`,
      },
    ]);
  },
);

books(
  'after a compaction (transfers stream archived and trimmed, old steps removed), a rebuilt audit stays green and still catches a forged debit',
  async (ctx) => {
    const prefix = uniquePrefix();
    const b = bank(ctx.redis, prefix);
    await b.open(JOHN);
    await b.open(MARY);
    await b.transfer(JOHN, MARY, 10);
    await b.transfer(MARY, JOHN, 3);
    // A quiet cut in a millisecond of its own, as compaction.ts picks one; and, as a compaction
    // finds them, the transfers behind it older than the audit's clock margin: a rebuilt audit that
    // did not know the cut before reading their ledger entries would call them never requested.
    await nextMillisecond(ctx.redis, transfersKey(prefix), CLOCK_MARGIN_MS + 100);
    const recent = await b.request(JOHN, MARY, 1);
    // Compacted as compaction.ts does, before the last request (a quiet cut): the point recorded,
    // in each ledger's steps too, the steps of entries in earlier milliseconds removed, the stream trimmed.
    const point = recent.requested as StreamId;
    await ctx.redis.hset(compactionKey(prefix), { before: point, checkpoint: '{}', at: new Date().toISOString() });
    for (const account of [JOHN, MARY]) {
      const steps = ledgerStepsKey(account, prefix);
      await ctx.redis.hset(steps, 'compacted-before', point);
      for (const [field, outcome] of Object.entries(await ctx.redis.hgetall(steps))) {
        const at = /^(?:debited|declined|credited|refunded) (\d+-\d+)/.exec(outcome)?.[1];
        if (at !== undefined && streamIdMillis(at) < streamIdMillis(point)) await ctx.redis.hdel(steps, field);
      }
    }
    await ctx.redis.xtrim(transfersKey(prefix), 'MINID', point);
    const recentDebit = await b.debit(recent);
    await b.complete(recent, recentDebit, await b.credit(recent, recentDebit));
    const rebuilt = startAudit(ctx, prefix);
    await readTo(rebuilt, await b.ends([JOHN, MARY]));
    for (let pass = 0; pass < 3; pass++) await rebuilt.stateCheck.pass();
    const green = rebuilt.audit.figures();
    assert.ok(green.conserved, describe(green));
    assert.equal([green.transfers, green.balances], [{ requested: 1, completed: 1, rejected: 0, pending: 0 }, 200]);
    // A debit of a transfer never requested, after the point, numbered and kept as a script would.
    const forged = randomUUID();
    const state = ledgerStateKey(JOHN, prefix);
    const seq = Number(await ctx.redis.hget(state, 'seq')) + 1;
    await ctx.redis.xadd(
      ledgerKey(JOHN, prefix),
      '*',
      ...encodeEvent(ledgerEvents, { type: 'Debited', data: { transfer: forged, to: MARY, amount: 5, seq } }),
    );
    await ctx.redis.hset(state, 'seq', seq);
    await ctx.redis.hincrby(state, 'balance', -5);
    const red = await untilViolation(rebuilt, 'the forged debit', (v) => v.transfer === forged);
    assert.equal(
      red.violations.first.find((v) => v.transfer === forged)?.reason,
      'names a transfer that was never requested',
    );
  },
);

books(
  'the checkpoint: two books over the same streams agree, so does a faithful copy; one rewritten entry changes it',
  async (ctx) => {
    const prefix = uniquePrefix();
    const b = bank(ctx.redis, prefix);
    await b.open(JOHN);
    await b.open(MARY);
    const { creditAt } = await b.transfer(JOHN, MARY, 10);
    await b.transfer(MARY, JOHN, 4);
    const ends = await b.ends([JOHN, MARY]);
    const one = await readTo(startAudit(ctx, prefix), ends);
    const two = await readTo(startAudit(ctx, prefix), ends);
    assert.equal(two.checkpoint, one.checkpoint);
    const copy = uniquePrefix('copy');
    await copyBank(ctx.redis, prefix, copy);
    assert.equal((await readTo(startAudit(ctx, copy), ends)).checkpoint, one.checkpoint);
    // Forged: mary's credit rewritten with another amount, at the same ID, in a copy of the books.
    const forged = uniquePrefix('forged');
    await copyBank(ctx.redis, prefix, forged, (key, id, fields) =>
      key === ledgerKey(MARY, prefix) && id === creditAt
        ? fields.map((f) => f.replace('"amount":10', '"amount":11'))
        : fields,
    );
    const rewritten = await readTo(startAudit(ctx, forged), ends);
    assert.equal(rewritten.checkpoint?.positions, one.checkpoint?.positions);
    assert.is.not(rewritten.checkpoint?.digest, one.checkpoint?.digest);
    assert.not.ok(rewritten.conserved);
  },
);

books.run();
