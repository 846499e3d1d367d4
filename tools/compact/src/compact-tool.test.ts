/**
 * `pnpm compact` against a real Redis: it refuses books that do not check out, archives and trims
 * books that do, and the books replayed afterwards from what is left still audit green, with the
 * step records of the compacted transfers gone.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { accountEvents, ledgerEvents, ledgerKey, ledgerStepsKey, streamKey, transfersKey } from '@microbank/events';
import { issueSupply, openingIssuance, startBooks } from '@microbank/ledger';
import { appendEvent, connectRedis, encodeEvent, silentLog } from '@microbank/streams';
import { nextMillisecond, type RedisContext, redisSuite, uniquePrefix, waitFor } from '@microbank/testing';
import { requestTransfer, runSaga, transferStatus } from '@microbank/transfer';
import * as assert from 'uvu/assert';
import { runCompact } from './compact-tool.ts';

type Context = RedisContext & { dir: string; prefix: string };

const tool = redisSuite<{ dir: string; prefix: string }>('pnpm compact', {
  connect: (url) => connectRedis(url, 'test', silentLog),
});
const ACCOUNTS = ['john-account', 'mary-account'];

tool.before(async (ctx) => {
  ctx.dir = mkdtempSync(join(tmpdir(), 'microbank-compact-'));
});
tool.before.each(async (ctx) => {
  ctx.prefix = uniquePrefix();
  for (const account of ACCOUNTS) {
    await issueSupply(ctx.redis, { issuance: openingIssuance(account), account, amount: 100 }, ctx.prefix);
    await appendEvent(ctx.redis, streamKey('accounts', ctx.prefix), accountEvents, {
      type: 'AccountRegistered',
      data: { account, url: 'http://127.0.0.1:1', instance: 't', registeredAt: new Date().toISOString() },
    });
  }
  for (let i = 0; i < 10; i++) {
    // Each request in a millisecond of its own: each one, once the one before settled, is a quiet cut.
    await nextMillisecond(ctx.redis, transfersKey(ctx.prefix));
    const { transfer } = await requestTransfer(
      ctx.redis,
      { from: 'john-account', to: 'mary-account', amount: 1 },
      'test',
      randomUUID(),
      ctx.prefix,
    );
    const status = await transferStatus(ctx.redis, transfer, ctx.prefix);
    if (status) await runSaga(ctx.redis, status, ctx.prefix);
  }
});
tool.after(async (ctx) => {
  rmSync(ctx.dir, { recursive: true, force: true });
});

const request = (ctx: Context, archive: string) => ({
  redisUrl: ctx.redisServer.url,
  archive,
  olderThanHours: 0,
  prefix: ctx.prefix,
});

tool('archives, trims, and the books replayed afterwards still audit green', async (ctx) => {
  const archive = join(ctx.dir, `${ctx.prefix}.jsonl`);
  const lines: string[] = [];
  // The newest transfer is settled: the cut is its request, the last quiet one.
  assert.is(await runCompact(ctx.redis, request(ctx, archive), (line) => lines.push(line)), 0, lines.join('\n'));
  const archived = readFileSync(archive, 'utf8').trim().split('\n');
  assert.is(archived.length, 18, '9 requests and their 9 settlements');
  assert.match(
    lines.join('\n'),
    /18 transfers-stream entries archived .* trimmed, 18 step records removed/,
    lines.join('\n'),
  );
  assert.is(await ctx.redis.xlen(transfersKey(ctx.prefix)), 2);
  assert.is(
    Object.keys(await ctx.redis.hgetall(ledgerStepsKey('john-account', ctx.prefix))).length,
    3,
    'its opening issuance, the last debit and the point',
  );

  const books = startBooks({
    redisAt: ctx.redisServer.url,
    log: silentLog,
    name: 'after',
    prefix: ctx.prefix,
    stateCheckMs: 0,
  });
  try {
    await books.projection.whenReady();
    const figures = await waitFor(
      'the books to replay',
      async () => books.audit.figures(),
      (f) => f.balances === 200,
    );
    assert.equal(figures.violations, { count: 0, first: [] });
    assert.is(figures.conserved, true);
  } finally {
    await books.close();
  }
});

tool('books that do not check out are not compacted', async (ctx) => {
  await ctx.redis.xadd(
    ledgerKey('mary-account', ctx.prefix),
    '*',
    ...encodeEvent(ledgerEvents, {
      type: 'Credited',
      data: { transfer: randomUUID(), from: 'john-account', amount: 5, debit: '1-0', seq: 1_000 },
    }),
  );
  const archive = join(ctx.dir, `${ctx.prefix}.jsonl`);
  const lines: string[] = [];
  assert.is(await runCompact(ctx.redis, request(ctx, archive), (line) => lines.push(line)), 1);
  assert.match(lines[0] ?? '', /do not check out .* nothing compacted/);
  assert.is(await ctx.redis.xlen(transfersKey(ctx.prefix)), 20, 'nothing trimmed');
});

tool.run();
