/**
 * `pnpm rebuild-state` against a real Redis: real steps driven through the real sagas and scripts,
 * every ledger's `:state` and `:steps` snapshotted, deleted, rebuilt from the streams alone, and
 * found identical; also after a compaction; `--check` finds a tampered balance; a rewrite waits
 * for the processors to be gone.
 */
import { randomUUID } from 'node:crypto';
import {
  accountEvents,
  ledgerStateKey,
  ledgerStepsKey,
  processorsPresenceKey,
  streamKey,
  transfersKey,
} from '@microbank/events';
import {
  credit,
  debit,
  issueSupply,
  keepingDifferences,
  keptLedger,
  type LedgerKeeping,
  refund,
} from '@microbank/ledger';
import { appendEvent, connectRedis, refreshPresence, silentLog, untilReady } from '@microbank/streams';
import { nextMillisecond, type RedisContext, redisSuite, uniquePrefix } from '@microbank/testing';
import { compact, compactionPoint, requestTransfer, runSaga, transferStatus } from '@microbank/transfer';
import * as assert from 'uvu/assert';
import { runRebuildState } from './rebuild-tool.ts';

interface Extra {
  prefix: string;
  /** The transfer refused by ghost-account (never opened), and the one phantom-account (never opened) could not pay. */
  toGhost: string;
  fromPhantom: string;
}
type Context = RedisContext & Extra;

const rebuild = redisSuite<Extra>('pnpm rebuild-state', { connect: (url) => connectRedis(url, 'test', silentLog) });
const REGISTERED = ['john-account', 'mary-account'];
const ACCOUNTS = [...REGISTERED, 'ghost-account', 'phantom-account'];

/** Requests a transfer (in a millisecond of its own) and runs its saga `runs` times; resolves to its ID. */
async function transfer(ctx: Context, from: string, to: string, amount: number, runs = 1): Promise<string> {
  await nextMillisecond(ctx.redis, transfersKey(ctx.prefix));
  const requested = await requestTransfer(ctx.redis, { from, to, amount }, 'test', randomUUID(), ctx.prefix);
  if (requested.kind !== 'new') throw new Error('the request was not new');
  const status = await transferStatus(ctx.redis, requested.transfer, ctx.prefix);
  if (status === undefined) throw new Error('no status');
  for (let run = 0; run < runs; run++) {
    await runSaga(ctx.redis, { ...status, position: requested.position }, ctx.prefix);
  }
  return requested.transfer;
}

async function snapshot(ctx: Context): Promise<Record<string, LedgerKeeping>> {
  const all: Record<string, LedgerKeeping> = {};
  for (const account of ACCOUNTS) all[account] = await keptLedger(ctx.redis, account, ctx.prefix);
  return all;
}

async function forget(ctx: Context): Promise<void> {
  for (const account of ACCOUNTS) {
    await ctx.redis.del(ledgerStateKey(account, ctx.prefix), ledgerStepsKey(account, ctx.prefix));
  }
}

async function run(ctx: Context, command: Parameters<typeof runRebuildState>[1] = {}) {
  const lines: string[] = [];
  const code = await runRebuildState(ctx.redis, { prefix: ctx.prefix, ...command }, (line) => lines.push(line));
  return { code, lines, said: lines.join('\n') };
}

rebuild.before.each(async (ctx) => {
  ctx.prefix = uniquePrefix();
  await issueSupply(ctx.redis, { issuance: 'opening:john-account', account: 'john-account', amount: 100 }, ctx.prefix);
  await issueSupply(ctx.redis, { issuance: 'opening:mary-account', account: 'mary-account', amount: 50 }, ctx.prefix);
  await issueSupply(ctx.redis, { issuance: 'bonus-1', account: 'mary-account', amount: 7 }, ctx.prefix);
  // An issuance run again changes nothing.
  await issueSupply(ctx.redis, { issuance: 'bonus-1', account: 'mary-account', amount: 7 }, ctx.prefix);
  for (const account of REGISTERED) {
    await appendEvent(ctx.redis, streamKey('accounts', ctx.prefix), accountEvents, {
      type: 'AccountRegistered',
      data: { account, url: 'http://127.0.0.1:1', instance: 't', registeredAt: new Date().toISOString() },
    });
  }
  await transfer(ctx, 'john-account', 'mary-account', 30, 2); // debited, credited; run twice
  await transfer(ctx, 'mary-account', 'john-account', 500); // declined
  ctx.toGhost = await transfer(ctx, 'john-account', 'ghost-account', 10, 2); // credit refused, refunded
  ctx.fromPhantom = await transfer(ctx, 'phantom-account', 'john-account', 5, 2); // debit refused
  await transfer(ctx, 'mary-account', 'john-account', 12); // the last: the quiet cut a compaction finds
});

rebuild('deleted, rebuilt from the streams, identical', async (ctx) => {
  const before = await snapshot(ctx);
  assert.is(before['ghost-account']?.steps[`credit:${ctx.toGhost}`], 'refused unknown-account');
  assert.is(before['phantom-account']?.steps[`debit:${ctx.fromPhantom}`], 'refused unknown-account');
  assert.match(before['john-account']?.steps[`refund:${ctx.toGhost}`] ?? '', /^refunded /);
  assert.is(Object.keys(before['ghost-account']?.state ?? {}).length, 0, 'never opened: no state');
  await forget(ctx);
  const { code, said } = await run(ctx);
  assert.is(code, 0, said);
  assert.match(said, /4 ledgers read from the streams, 4 rewritten/);
  assert.equal(await snapshot(ctx), before);
  assert.is((await run(ctx, { check: true })).code, 0, 'nothing differs after the rewrite');
});

rebuild('a credit refused before its saga settled is told by the refund', async (ctx) => {
  // The saga's steps without a settlement: debited, refused by ghost, refunded; no TransferRejected yet.
  const pending = { transfer: randomUUID(), from: 'mary-account', to: 'ghost-account', amount: 3 };
  await debit(ctx.redis, pending, ctx.prefix);
  assert.is((await credit(ctx.redis, pending, '1-0', ctx.prefix)).outcome.kind, 'refused');
  await refund(ctx.redis, pending, ctx.prefix);
  const before = await snapshot(ctx);
  assert.is(before['ghost-account']?.steps[`credit:${pending.transfer}`], 'refused unknown-account');
  await forget(ctx);
  assert.is((await run(ctx)).code, 0);
  assert.equal(await snapshot(ctx), before);
});

rebuild('one account alone, rebuilt the same', async (ctx) => {
  const before = await snapshot(ctx);
  await ctx.redis.del(ledgerStepsKey('ghost-account', ctx.prefix));
  assert.is((await run(ctx, { account: 'ghost-account' })).code, 0);
  assert.equal(await snapshot(ctx), before);
});

rebuild('after a compaction: the same, but for what only the trimmed transfers told', async (ctx) => {
  const point = await compactionPoint(ctx.redis, Date.now(), ctx.prefix);
  if (point === undefined) throw new Error('no compaction point');
  const result = await compact(ctx.redis, {
    before: point,
    accounts: REGISTERED,
    archive: async () => {},
    checkpoint: '{}',
    prefix: ctx.prefix,
  });
  assert.ok(result.steps > 0, 'steps were compacted');
  const before = await snapshot(ctx);
  await forget(ctx);
  assert.is((await run(ctx)).code, 0);
  const after = await snapshot(ctx);
  for (const account of REGISTERED) assert.equal(after[account], before[account], account);
  // ghost's refusal is told by john's Refunded still; it is given the point as well (safe: refuses more).
  assert.equal(keepingDifferences(after['ghost-account'] as LedgerKeeping, before['ghost-account'] as LedgerKeeping), [
    { hash: 'steps', field: 'compacted-before', rebuilt: point, kept: undefined },
  ]);
  // phantom's refusal was told only by the TransferRejected the compaction trimmed: lost, and no
  // stream names phantom any more. Asked for by name, it is given the point, which refuses that
  // transfer's steps in the refusal's place.
  assert.equal(after['phantom-account'], { state: {}, steps: {} });
  assert.is((await run(ctx, { account: 'phantom-account' })).code, 0);
  const named = await keptLedger(ctx.redis, 'phantom-account', ctx.prefix);
  assert.equal(keepingDifferences(named, before['phantom-account'] as LedgerKeeping), [
    { hash: 'steps', field: 'compacted-before', rebuilt: point, kept: undefined },
    { hash: 'steps', field: `debit:${ctx.fromPhantom}`, rebuilt: undefined, kept: 'refused unknown-account' },
  ]);
});

rebuild('--check reports a tampered balance and exits 1, changing nothing', async (ctx) => {
  await ctx.redis.hset(ledgerStateKey('john-account', ctx.prefix), 'balance', '1000000');
  const { code, said } = await run(ctx, { check: true });
  assert.is(code, 1);
  assert.match(said, /john-account state balance: kept 1000000, the streams say \d+/);
  assert.match(said, /1 differ/);
  assert.is(await ctx.redis.hget(ledgerStateKey('john-account', ctx.prefix), 'balance'), '1000000');
  assert.is((await run(ctx)).code, 0);
  assert.is((await run(ctx, { check: true })).code, 0, 'rewritten');
});

rebuild('no rewrite while transfer processors are alive, unless forced', async (ctx) => {
  await refreshPresence(ctx.redis, processorsPresenceKey(ctx.prefix), 'processor-1', 'http://127.0.0.1:1', 60_000);
  await ctx.redis.hset(ledgerStateKey('john-account', ctx.prefix), 'balance', '1');
  const refused = await run(ctx);
  assert.is(refused.code, 1);
  assert.match(refused.said, /1 transfer processors are alive \(processor-1\).*nothing rewritten/);
  assert.is(await ctx.redis.hget(ledgerStateKey('john-account', ctx.prefix), 'balance'), '1');
  assert.is((await run(ctx, { check: true })).code, 1, 'a check still runs');
  assert.is((await run(ctx, { force: true })).code, 0);
  assert.is((await run(ctx, { check: true })).code, 0);
});

rebuild('a saga step made while a ledger is rewritten is kept: the ledger is folded again', async (ctx) => {
  await ctx.redis.hset(ledgerStateKey('john-account', ctx.prefix), 'balance', '1');
  const other = connectRedis(ctx.redisServer.url, 'test:other', silentLog);
  await untilReady(other);
  const racing = randomUUID();
  let raced = false;
  // The rewrite's connection, with a debit of john's made on another connection right before its
  // first EXEC: after the fold, before the write, as a processor that came back would.
  const redis = new Proxy(ctx.redis, {
    get(target, property) {
      const value = Reflect.get(target, property, target);
      if (property !== 'multi') return typeof value === 'function' ? value.bind(target) : value;
      return () => {
        const multi = target.multi();
        const exec = multi.exec.bind(multi);
        multi.exec = async () => {
          if (!raced) {
            raced = true;
            await debit(other, { transfer: racing, from: 'john-account', to: 'mary-account', amount: 1 }, ctx.prefix);
          }
          return exec();
        };
        return multi;
      };
    },
  });
  try {
    const code = await runRebuildState(redis, { prefix: ctx.prefix }, () => {});
    assert.is(code, 0);
    assert.ok(raced, 'the debit was made during the rewrite');
    const steps = await ctx.redis.hgetall(ledgerStepsKey('john-account', ctx.prefix));
    assert.match(steps[`debit:${racing}`] ?? '', /^debited /, 'the step made meanwhile is kept');
    assert.is((await run(ctx, { check: true })).code, 0, 'the state is what the streams say, the debit included');
  } finally {
    other.disconnect();
  }
});

rebuild.run();
