/**
 * Compaction against a real Redis: the transfers stream is archived and trimmed at a quiet cut, the
 * ledgers' step records before it are removed, and an old step delivered again afterwards is
 * refused by its position: it pays nothing twice.
 */
import { randomUUID } from 'node:crypto';
import { COMPACTED_BEFORE, compactionLockKey, ledgerStateKey, ledgerStepsKey, transfersKey } from '@microbank/events';
import { checkLedger, debit, issueSupply, openingIssuance } from '@microbank/ledger';
import { compareStreamIds, connectRedis, type StreamId, silentLog } from '@microbank/streams';
import { nextMillisecond, type RedisContext, redisSuite, uniquePrefix, waitFor } from '@microbank/testing';
import * as assert from 'uvu/assert';
import { compact, compactedBefore, compactionPoint } from './compaction.ts';
import { BehindCompaction, runSaga } from './saga.ts';
import { requestTransfer, type TransferStatus, transferStatus } from './transfer-log.ts';

type Context = RedisContext & { prefix: string };

const compaction = redisSuite<{ prefix: string }>('compaction', {
  connect: (url) => connectRedis(url, 'test', silentLog),
});
const ACCOUNTS = ['john-account', 'mary-account'];

compaction.before.each(async (ctx) => {
  ctx.prefix = uniquePrefix();
  for (const account of ACCOUNTS) {
    await issueSupply(ctx.redis, { issuance: openingIssuance(account), account, amount: 1_000 }, ctx.prefix);
  }
});

/** Requests a transfer of 1 from john to mary; its status (with its position) as the saga takes it. */
async function request(ctx: Context): Promise<TransferStatus> {
  const requested = await requestTransfer(
    ctx.redis,
    { from: 'john-account', to: 'mary-account', amount: 1 },
    'test',
    randomUUID(),
    ctx.prefix,
  );
  const status = await transferStatus(ctx.redis, requested.transfer, ctx.prefix);
  if (!status) throw new Error('no status');
  return status;
}

const balance = async (ctx: Context, account: string) =>
  Number(await ctx.redis.hget(ledgerStateKey(account, ctx.prefix), 'balance'));

compaction('behind a quiet cut: archived, trimmed, steps gone, and an old step refused by position', async (ctx) => {
  const settled: TransferStatus[] = [];
  for (let i = 0; i < 20; i++) {
    const status = await request(ctx);
    await runSaga(ctx.redis, status, ctx.prefix);
    settled.push(status);
  }
  // One still pending: the cut must come before it (and the cut needs a millisecond of its own).
  await nextMillisecond(ctx.redis, transfersKey(ctx.prefix));
  const pending = await request(ctx);
  const point = await compactionPoint(ctx.redis, Date.now() + 1_000, ctx.prefix);
  assert.is(point, pending.position, 'the last quiet cut is the pending request');
  if (point === undefined) throw new Error('no point');

  let archived: Array<[StreamId, string[]]> = [];
  const result = await compact(ctx.redis, {
    before: point,
    accounts: ACCOUNTS,
    archive: async (entries) => {
      archived = entries;
    },
    checkpoint: 'test',
    prefix: ctx.prefix,
  });
  // 20 requests and 20 settlements archived; the pending request is all that is left.
  assert.equal([result.entries, archived.length], [40, 40]);
  assert.is(await compactedBefore(ctx.redis, ctx.prefix), point);
  const left = (await ctx.redis.xrange(transfersKey(ctx.prefix), '-', '+')) as Array<[StreamId, string[]]>;
  assert.equal(
    left.map(([id]) => id),
    [point],
  );
  // Each settled transfer had a debit step on john and a credit step on mary: all removed.
  assert.is(result.steps, 40);
  for (const account of ACCOUNTS) {
    const steps = await ctx.redis.hgetall(ledgerStepsKey(account, ctx.prefix));
    assert.equal(
      Object.keys(steps).filter((field) => field.startsWith('debit:') || field.startsWith('credit:')),
      [],
      account,
    );
    assert.is(steps[COMPACTED_BEFORE], point);
    assert.equal((await checkLedger(ctx.redis, account, ctx.prefix)).problems, [], account);
  }

  // An old transfer delivered again after compaction: refused by its position, nothing moves.
  const [john, mary] = [await balance(ctx, 'john-account'), await balance(ctx, 'mary-account')];
  const old = settled[3] as TransferStatus;
  try {
    await runSaga(ctx.redis, old, ctx.prefix);
    assert.unreachable('an old saga ran again');
  } catch (error) {
    assert.instance(error, BehindCompaction);
  }
  const step = { transfer: old.transfer, from: old.from, to: old.to, amount: old.amount };
  assert.equal((await debit(ctx.redis, { ...step, requested: old.position }, ctx.prefix)).outcome, {
    kind: 'refused',
    reason: 'compacted',
  });
  assert.equal((await debit(ctx.redis, step, ctx.prefix)).outcome, { kind: 'refused', reason: 'compacted' });
  assert.equal([await balance(ctx, 'john-account'), await balance(ctx, 'mary-account')], [john, mary]);

  // The pending transfer, at the point, still settles; and a new one after it.
  assert.equal((await runSaga(ctx.redis, pending, ctx.prefix)).type, 'TransferCompleted');
  const fresh = await request(ctx);
  assert.equal((await runSaga(ctx.redis, fresh, ctx.prefix)).type, 'TransferCompleted');
  assert.equal([await balance(ctx, 'john-account'), await balance(ctx, 'mary-account')], [john - 2, mary + 2]);
});

compaction('a saga run again across a compaction never gives back a debit whose credit was compacted', async (ctx) => {
  // Half compacted, as a compaction that has done mary's ledger and not john's would leave it (the
  // compaction records every ledger's point before it removes a step, so this is the saga's own
  // guard): mary refuses the credit by position, john still holds the debit's record.
  const t = await request(ctx);
  await runSaga(ctx.redis, t, ctx.prefix);
  await nextMillisecond(ctx.redis, transfersKey(ctx.prefix));
  const later = await request(ctx);
  const marySteps = ledgerStepsKey('mary-account', ctx.prefix);
  await ctx.redis.hset(marySteps, COMPACTED_BEFORE, later.position as string);
  await ctx.redis.hdel(marySteps, `credit:${t.transfer}`);
  const [john, mary] = [await balance(ctx, 'john-account'), await balance(ctx, 'mary-account')];
  try {
    await runSaga(ctx.redis, t, ctx.prefix);
    assert.unreachable('the saga ran on');
  } catch (error) {
    assert.instance(error, BehindCompaction);
  }
  assert.equal([await balance(ctx, 'john-account'), await balance(ctx, 'mary-account')], [john, mary]);
  assert.is(await ctx.redis.hget(ledgerStepsKey('john-account', ctx.prefix), `refund:${t.transfer}`), null);
});

compaction('two compactions at once: the second is refused while the first holds the lock', async (ctx) => {
  const t = await request(ctx);
  await runSaga(ctx.redis, t, ctx.prefix);
  await nextMillisecond(ctx.redis, transfersKey(ctx.prefix));
  const later = await request(ctx);
  let release: () => void = () => {};
  const held = new Promise<void>((resolve) => {
    release = resolve;
  });
  const options = { accounts: ACCOUNTS, checkpoint: 'test', prefix: ctx.prefix, before: later.position as string };
  const first = compact(ctx.redis, { ...options, archive: () => held });
  await waitFor(
    'the first compaction to hold its lock',
    () => ctx.redis.exists(compactionLockKey(ctx.prefix)),
    (n) => n === 1,
  );
  try {
    await compact(ctx.redis, { ...options, archive: async () => {} });
    assert.unreachable('a second compaction ran');
  } catch (error) {
    assert.match((error as Error).message, /another compaction is running/);
  }
  release();
  assert.is((await first).before, later.position);
  assert.is(await ctx.redis.exists(compactionLockKey(ctx.prefix)), 0, 'the lock is given back');
});

compaction('no quiet cut older than asked: nothing to compact; a point never moves back', async (ctx) => {
  const first = await request(ctx);
  await runSaga(ctx.redis, first, ctx.prefix);
  assert.is(await compactionPoint(ctx.redis, 0, ctx.prefix), undefined, 'nothing is old enough');
  const point = await compactionPoint(ctx.redis, Date.now() + 1_000, ctx.prefix);
  assert.is(point, first.position);
  await nextMillisecond(ctx.redis, transfersKey(ctx.prefix));
  const second = await request(ctx);
  await runSaga(ctx.redis, second, ctx.prefix);
  const later = await compactionPoint(ctx.redis, Date.now() + 1_000, ctx.prefix);
  assert.is(later, second.position);
  if (point === undefined || later === undefined) throw new Error('no point');
  assert.ok(compareStreamIds(point, later) < 0);
  const options = { accounts: ACCOUNTS, archive: async () => {}, checkpoint: 'test', prefix: ctx.prefix };
  await compact(ctx.redis, { ...options, before: later });
  try {
    await compact(ctx.redis, { ...options, before: point });
    assert.unreachable('compacted back');
  } catch (error) {
    assert.match((error as Error).message, /compacted before .* already/);
  }
});

compaction.run();
