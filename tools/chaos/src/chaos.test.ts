import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeEvent, ledgerEvents, ledgerKey, ledgerStateKey, transferEvents, transfersKey } from '@microbank/events';
import { componentsOf, type StackProcess, startStackProcess } from '@microbank/local-stack';
import { testSuite } from '@microbank/testing';
import { Redis } from 'ioredis';
import * as assert from 'uvu/assert';
import { runChaos } from './chaos.ts';
import { killPlan } from './kill-plan.ts';
import { verifyMoney } from './money-verify.ts';
import { formatReport } from './report.ts';
import { verifyNothingLost } from './verify.ts';

const plan = testSuite('kill plan');

const COMPONENTS = ['redis', 'account-system', 'balance', 'john-account', 'mary-account'];
const take = (seed: number, n: number) => {
  const picks: string[] = [];
  for (const pick of killPlan(seed, COMPONENTS)) {
    picks.push(pick);
    if (picks.length === n) break;
  }
  return picks;
};

plan('the same seed gives the same sequence; another seed another one', () => {
  assert.equal(take(42, 30), take(42, 30));
  assert.not.equal(take(42, 30), take(43, 30));
});

plan('every component gets picked', () => {
  assert.equal(new Set(take(1, 200)).size, COMPONENTS.length);
});

plan.run();

interface Context {
  dataDir: string;
  stack: StackProcess;
}

const chaos = testSuite<Context>('chaos check against the local stack', {} as Context);

chaos.before(async (ctx) => {
  ctx.dataDir = mkdtempSync(join(tmpdir(), 'microbank-chaos-test-'));
  try {
    ctx.stack = await startStackProcess(ctx.dataDir);
  } catch (error) {
    console.error((error as Error).message);
    throw error;
  }
});

chaos.after(async (ctx) => {
  await ctx.stack?.stop();
  rmSync(ctx.dataDir, { recursive: true, force: true });
});

chaos('a short run: kills across the stack, every acknowledged registration kept, all back up', async (ctx) => {
  const lines: string[] = [];
  const report = await runChaos({
    plan: ctx.stack.plan,
    seed: 2026,
    kills: 10,
    durationMs: 60_000,
    intervalMs: 400,
    components: componentsOf(ctx.stack.plan),
    verify: true,
    settleMs: 30_000,
    say: (line) => lines.push(line),
  });
  const verdict = report.verdict;
  assert.ok(verdict, 'verified');
  assert.is(report.kills.length, 10);
  assert.ok((report.appends?.acknowledged ?? 0) > 0, 'the load appended');
  assert.is(report.appends?.lost, 0);
  assert.equal(verdict?.componentsDown, []);
  assert.equal(verdict?.duplicates, []);
  assert.ok(verdict?.inOrder);
  assert.is(verdict?.positions['account-system'], verdict?.streamEnd);
  assert.is(verdict?.positions.balance, verdict?.streamEnd);
  const money = report.money;
  assert.ok(money, 'the money was checked');
  assert.ok((report.transfers?.accepted ?? 0) > 0, 'the load moved money');
  assert.equal(money?.transfers.unsettled, []);
  assert.equal(money?.wrongEntries, []);
  assert.equal(money?.negative, []);
  assert.equal(money?.replayMismatches, []);
  assert.is(money?.balances, money?.openings);
  assert.ok(money?.conserved, `conserved\n${formatReport(report, 400)}`);
  assert.ok(report.passed, `${lines.join('\n')}\n${formatReport(report, 400)}`);
  assert.ok(
    report.kills.every((kill) => kill.backAfterMs !== undefined),
    'every killed component came back',
  );
});

chaos('the check fails when an acknowledged registration is missing', async (ctx) => {
  const verdict = await verifyNothingLost(ctx.stack.plan, [{ account: 'never-appended-account', id: '1-0' }], 10_000);
  assert.equal(verdict.lostInAccountSystem, ['never-appended-account']);
  assert.equal(verdict.lostInBalance, ['never-appended-account']);
  assert.is(verdict.passed, false);
});

chaos('the money check fails when money appears from nowhere (a credit no debit paid for)', async (ctx) => {
  const redis = new Redis(ctx.stack.plan.redisUrl);
  try {
    // A careful forger: the next seq, and the script-kept state moved to match, in one MULTI.
    const state = ledgerStateKey('mary-account');
    const seq = Number(await redis.hget(state, 'seq')) + 1;
    await redis
      .multi()
      .xadd(
        ledgerKey('mary-account'),
        '*',
        ...encodeEvent(ledgerEvents, {
          type: 'Credited',
          data: { transfer: randomUUID(), from: 'john-account', amount: 5, debit: '1-0', seq },
        }),
      )
      .hincrby(state, 'balance', 5)
      .hset(state, 'seq', seq)
      .exec();
  } finally {
    redis.disconnect();
  }
  const money = await verifyMoney(ctx.stack.plan, [], 5_000);
  assert.equal(money.stateMismatches, [], 'the state was forged to match the stream');
  assert.is(money.conserved, false);
  assert.is(money.balances, money.issued + 5);
  assert.is(money.passed, false);
});

chaos('the money check fails when one key made two transfers (a retry that would pay twice)', async (ctx) => {
  const redis = new Redis(ctx.stack.plan.redisUrl);
  const key = randomUUID();
  const [first, second] = [randomUUID(), randomUUID()];
  try {
    for (const transfer of [first, second]) {
      await redis.xadd(
        transfersKey(),
        '*',
        ...encodeEvent(transferEvents, {
          type: 'TransferRequested',
          data: {
            transfer,
            from: 'john-account',
            to: 'mary-account',
            amount: 1,
            key,
            requestedAt: new Date().toISOString(),
            client: 'operator',
          },
        }),
      );
    }
  } finally {
    redis.disconnect();
  }
  const accepted = { transfer: first, key, from: 'john-account', to: 'mary-account', amount: 1, sends: 2 };
  const money = await verifyMoney(ctx.stack.plan, [accepted], 10_000);
  assert.ok(
    money.wrongEntries.some((line) => line.includes(`its key ${key} made 2 requests`)),
    JSON.stringify(money.wrongEntries),
  );
  assert.equal([money.transfers.retried, money.transfers.retriedRequestedOnce], [1, 0]);
  assert.is(money.passed, false);
});

chaos.run();
