/**
 * `pnpm parked` against a real Redis: the list an operator reads, a re-apply and a second one that
 * runs nothing, an unknown entry; then the command itself, run once to list and once to re-apply.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { transfersKey } from '@microbank/events';
import { issueSupply, openingIssuance, openLedger } from '@microbank/ledger';
import { stackRedisUrl } from '@microbank/local-stack';
import { connectRedis, silentLog } from '@microbank/streams';
import { type RedisContext, redisSuite, spawnNode, uniquePrefix } from '@microbank/testing';
import { PROCESSORS_GROUP, parkEntry, requestTransfer, transferStatus } from '@microbank/transfer';
import * as assert from 'uvu/assert';
import { formatParked, runParked } from './parked-tool.ts';

type Context = RedisContext & { prefix: string };

const tool = redisSuite<{ prefix: string }>('pnpm parked', {
  connect: (url) => connectRedis(url, 'test', silentLog),
});

tool.before.each((ctx) => {
  ctx.prefix = uniquePrefix();
});

/** A transfer john -> mary of `amount`, read by a processor that then parked it without running it. */
async function parkedTransfer(ctx: Context, amount: number) {
  for (const account of ['john-account', 'mary-account']) {
    await openLedger(ctx.redis, account, ctx.prefix);
    await issueSupply(ctx.redis, { issuance: openingIssuance(account), account, amount: 100 }, ctx.prefix);
  }
  const requested = await requestTransfer(
    ctx.redis,
    { from: 'john-account', to: 'mary-account', amount },
    'test',
    randomUUID(),
    ctx.prefix,
  );
  if (requested.kind !== 'new') throw new Error('not a new transfer');
  const stream = transfersKey(ctx.prefix);
  await ctx.redis.xgroup('CREATE', stream, PROCESSORS_GROUP, '0', 'MKSTREAM');
  await ctx.redis.xreadgroup('GROUP', PROCESSORS_GROUP, 'gone', 'COUNT', 10, 'STREAMS', stream, '>');
  const parked = await parkEntry(
    ctx.redis,
    {
      consumer: 'gone',
      entry: requested.position,
      transfer: { transfer: requested.transfer, from: 'john-account', to: 'mary-account', amount },
      reason: 'WRONGTYPE Operation against a key\nholding the wrong kind of value',
      deliveries: 5,
    },
    ctx.prefix,
  );
  if (!parked) throw new Error('not parked');
  return { transfer: requested.transfer, parked };
}

async function run(ctx: Context, retry?: string): Promise<{ code: number; lines: string[] }> {
  const lines: string[] = [];
  const code = await runParked(ctx.redis, { retry, prefix: ctx.prefix }, (line) => lines.push(line));
  return { code, lines };
}

tool('lists the parked transfers; re-applies one once, a second time runs nothing', async (ctx) => {
  assert.equal(await run(ctx), { code: 0, lines: ['no parked transfers'] });
  const { transfer, parked } = await parkedTransfer(ctx, 12);
  const listed = await run(ctx);
  assert.is(listed.code, 0);
  const [header, row, summary] = listed.lines;
  assert.match(header ?? '', /^parked +transfer +from +to +amount +deliveries +when +state +reason$/);
  assert.match(
    row ?? '',
    new RegExp(
      `^${parked} +${transfer} +john-account +mary-account +12 +5 +\\S+ +parked +WRONGTYPE Operation against a key holding`,
    ),
  );
  assert.is(summary, '1 of 1 still parked; re-apply one with --retry <parked>');

  assert.equal(await run(ctx, parked), { code: 0, lines: [`re-applied ${parked}: transfer ${transfer} completed`] });
  assert.is((await transferStatus(ctx.redis, transfer, ctx.prefix))?.status, 'completed');
  const again = await run(ctx, parked);
  assert.is(again.code, 0);
  assert.match(again.lines.join('\n'), new RegExp(`^${parked} was re-applied already .*nothing run again$`));
  assert.match((await run(ctx)).lines[1] ?? '', / re-applied: completed +WRONGTYPE/);
  assert.equal(await run(ctx, '1-1'), { code: 1, lines: ['no parked entry 1-1; `pnpm parked` lists them'] });
});

tool('finds Redis at REDIS_URL, else where the local stack runs, else on the stack`s default port', () => {
  assert.is(stackRedisUrl({ REDIS_URL: 'redis://10.0.0.1:6379' }), 'redis://10.0.0.1:6379');
  const empty = mkdtempSync(join(tmpdir(), 'microbank-parked-'));
  try {
    assert.is(stackRedisUrl({ MICROBANK_DATA_DIR: empty }), 'redis://127.0.0.1:6380');
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
  assert.equal(formatParked([]), ['no parked transfers']);
});

tool('the command lists, then re-applies', async (ctx) => {
  const { transfer, parked } = await parkedTransfer(ctx, 7);
  const command = async (...args: string[]) => {
    const started = spawnNode('tools/parked/src/main.ts', {
      args: ['--prefix', ctx.prefix, ...args],
      env: { REDIS_URL: ctx.redisServer.url },
    });
    const { code } = await started.exited;
    return { code, output: started.lines.join('\n') };
  };
  const listed = await command();
  assert.is(listed.code, 0, listed.output);
  assert.match(listed.output, new RegExp(`${parked} +${transfer} +john-account +mary-account +7 +5 `));
  const retried = await command('--retry', parked);
  assert.is(retried.code, 0, retried.output);
  assert.is(retried.output, `re-applied ${parked}: transfer ${transfer} completed`);
});

tool.run();
