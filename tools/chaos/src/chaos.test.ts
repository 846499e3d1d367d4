import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ledgerEvents, ledgerKey, ledgerStateKey, transferEvents, transfersKey } from '@microbank/events';
import {
  componentsOf,
  continueComponent,
  isComponentPaused,
  pauseComponent,
  type StackProcess,
  startStackProcess,
} from '@microbank/local-stack';
import { encodeEvent } from '@microbank/streams';
import { testSuite } from '@microbank/testing';
import { Redis } from 'ioredis';
import * as assert from 'uvu/assert';
import { runChaos } from './chaos.ts';
import { type Disruption, disruptionPlan, killPlan, PAUSE_MS } from './kill-plan.ts';
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

const disruptions = (seed: number, kills: number, pauses: number) => {
  const planned = disruptionPlan(seed, COMPONENTS);
  const done: Disruption[] = [];
  while (kills + pauses > 0) {
    const next = planned.next({ kills, pauses });
    done.push(next);
    if (next.kind === 'kill') kills--;
    else pauses--;
  }
  return done;
};

plan('kills and pauses: mixed in a seeded order, the counts asked, pauses longer than the claim time', () => {
  const mixed = disruptions(7, 30, 20);
  assert.equal(mixed, disruptions(7, 30, 20));
  assert.not.equal(mixed, disruptions(8, 30, 20));
  assert.is(mixed.filter((d) => d.kind === 'kill').length, 30);
  const pauses = mixed.filter((d) => d.kind === 'pause');
  assert.is(pauses.length, 20);
  assert.ok(pauses.every((d) => d.pauseMs >= PAUSE_MS.min && d.pauseMs <= PAUSE_MS.max && d.pauseMs > 2_000));
  assert.ok(new Set(pauses.map((d) => d.pauseMs)).size > 1, 'lengths vary');
  // The pauses are spread through the run, not bunched at one end.
  assert.ok(mixed.slice(0, 25).some((d) => d.kind === 'pause') && mixed.slice(25).some((d) => d.kind === 'pause'));
});

plan('without pauses, the same seed kills what it killed before', () => {
  assert.equal(
    disruptions(42, 30, 0).map((d) => (d.kind === 'kill' ? d.component : 'pause')),
    take(42, 30),
  );
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

chaos('a short run: kills, pauses and memory pressure; nothing acknowledged lost, all back up', async (ctx) => {
  const lines: string[] = [];
  const report = await runChaos({
    plan: ctx.stack.plan,
    seed: 2026,
    kills: 10,
    pauses: 4,
    durationMs: 60_000,
    intervalMs: 500,
    components: componentsOf(ctx.stack.plan),
    memoryPressure: true,
    verify: true,
    quietMs: 30_000,
    say: (line) => lines.push(line),
  });
  const verdict = report.verdict;
  const explain = `${lines.join('\n')}\n${formatReport(report, 500)}`;
  assert.ok(verdict, 'verified');
  assert.is(report.kills.length, 10);
  assert.is(report.pauses.length, 4);
  assert.ok(
    report.pauses.every((pause) => (pause.heldMs ?? 0) >= pause.pauseMs - 50 || pause.killedWhilePaused),
    `each pause held its length, then continued\n${explain}`,
  );
  assert.ok(
    report.pauses.every((pause) => pause.killedWhilePaused || pause.backAfterMs !== undefined),
    `every paused component up again\n${explain}`,
  );
  assert.equal(report.pausedAtEnd, []);
  assert.equal(verdict?.componentsPaused, []);
  const pressure = report.memoryPressure;
  assert.ok((pressure?.windows.length ?? 0) >= 1, `a memory-pressure window\n${explain}`);
  assert.ok(pressure?.restored, `maxmemory put back\n${explain}`);
  assert.equal(report.transfers?.unexpected, [], 'no 500 (nor any answer but 202, 503 and the fair 422)');
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
  assert.is(money?.balances, money?.issuedIntoLedgers);
  assert.ok(money?.conserved, `conserved\n${explain}`);
  assert.equal(money?.audit?.stuck, 0);
  assert.ok(report.passed, explain);
  assert.ok(
    report.kills.every((kill) => kill.backAfterMs !== undefined),
    'every killed component came back',
  );
});

chaos('the check fails when a component is left paused: down, and named as paused', async (ctx) => {
  const paused = pauseComponent(ctx.stack.plan.dataDir, 'mary-account');
  try {
    // SIGSTOP takes effect when the process is next scheduled.
    for (let tries = 0; tries < 100 && !isComponentPaused(ctx.stack.plan.dataDir, 'mary-account'); tries++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.ok(isComponentPaused(ctx.stack.plan.dataDir, 'mary-account'), 'stopped');
    const verdict = await verifyNothingLost(ctx.stack.plan, [], 3_000);
    assert.equal(verdict.componentsDown, ['mary-account']);
    assert.equal(verdict.componentsPaused, ['mary-account']);
    assert.is(verdict.passed, false);
  } finally {
    continueComponent(paused);
  }
  assert.is(isComponentPaused(ctx.stack.plan.dataDir, 'mary-account'), false);
  assert.is((await verifyNothingLost(ctx.stack.plan, [], 30_000)).passed, true, 'back once continued');
});

chaos(
  'a run that fails half-way, with components paused and Redis under pressure, leaves neither behind',
  async (ctx) => {
    const { plan } = ctx.stack;
    const redis = new Redis(plan.redisUrl);
    try {
      const before = await redis.config('GET', 'maxmemory');
      let pressing = false;
      let pausedAtFailure: string[] = [];
      const failure = await runChaos({
        plan,
        seed: 11,
        kills: 0,
        pauses: 10,
        durationMs: 30_000,
        intervalMs: 700,
        components: componentsOf(plan).filter((component) => component !== 'redis'),
        memoryPressure: true,
        verify: false,
        say: (line) => {
          if (line.startsWith('memory pressure 1:')) pressing = true;
          // The first pause while a window holds (every window holds 2 s at least) fails the run.
          if (pressing && line.startsWith('pause')) {
            pausedAtFailure = componentsOf(plan).filter((component) => isComponentPaused(plan.dataDir, component));
            throw new Error('a failure in the middle of the run');
          }
        },
      }).then(
        () => undefined,
        (error: Error) => error,
      );
      assert.match(failure?.message ?? 'it did not fail', /a failure in the middle of the run/);
      assert.ok(pausedAtFailure.length >= 1, 'a component was paused when it failed');
      assert.equal(
        componentsOf(plan).filter((component) => isComponentPaused(plan.dataDir, component)),
        [],
        'every paused component continued',
      );
      assert.equal(await redis.config('GET', 'maxmemory'), before, 'maxmemory put back');
    } finally {
      redis.disconnect();
    }
  },
);

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
  const accepted = {
    transfer: first,
    key,
    from: 'john-account',
    to: 'mary-account',
    amount: 1,
    sends: 2,
    indeterminate: [],
  };
  const money = await verifyMoney(ctx.stack.plan, [accepted], 10_000);
  assert.ok(
    money.wrongEntries.some((line) => line.includes(`its key ${key} made 2 requests`)),
    JSON.stringify(money.wrongEntries),
  );
  assert.equal([money.transfers.retried, money.transfers.retriedRequestedOnce], [1, 0]);
  assert.is(money.passed, false);
});

chaos.run();
