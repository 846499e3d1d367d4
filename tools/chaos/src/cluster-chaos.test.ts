/**
 * The chaos check on the stack's Redis Cluster (3 primaries × 2 replicas, cluster-node-timeout
 * 1000 ms): a short run of primary SIGKILLs, CLUSTER FAILOVERs and a replica SIGKILL under transfers
 * from four clients loses nothing acknowledged; then a failover forced while the transfers stream's
 * replicas lag, once with the services' replica confirmation (the requests of the window are answered
 * indeterminate and retried into one outcome each: nothing acknowledged lost) and once through a
 * transfer replica with confirmation off (REDIS_CONFIRM_REPLICAS=0): the negative control, where the
 * check must see an acknowledged transfer lost. The control runs last: it leaves the books broken.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type StackProcess, startStackProcess } from '@microbank/local-stack';
import { waitFor } from '@microbank/processes';
import { testSuite } from '@microbank/testing';
import * as assert from 'uvu/assert';
import { runChaos } from './chaos.ts';
import { failOverLagging } from './lagging-failover.ts';
import { verifyMoney } from './money-verify.ts';
import { formatReport } from './report.ts';
import { startTransferLoad, type TransferLoad } from './transfer-load.ts';
import { startUnconfirmedTransfer } from './unconfirmed-transfer.ts';

interface Context {
  dataDir: string;
  stack: StackProcess;
}

const NODE_TIMEOUT_MS = 1_000;
const CLIENTS = 4;

/** The stack's warnings and errors of late, for a failure's explanation. */
const troubles = (ctx: Context) =>
  ctx.stack.process.lines
    .filter((line) => /\b(WARN|ERROR|FATAL)\b/.test(line) && !line.startsWith('redis-'))
    .slice(-40)
    .join('\n');

const cluster = testSuite<Context>('chaos check against the local stack on a Redis Cluster', {} as Context);

cluster.before(async (ctx) => {
  ctx.dataDir = mkdtempSync(join(tmpdir(), 'microbank-cluster-chaos-test-'));
  try {
    ctx.stack = await startStackProcess(ctx.dataDir, {
      args: ['--cluster'],
      env: { MICROBANK_CLUSTER_NODE_TIMEOUT_MS: String(NODE_TIMEOUT_MS) },
      timeoutMs: 180_000,
    });
  } catch (error) {
    console.error((error as Error).message);
    throw error;
  }
});

cluster.after(async (ctx) => {
  await ctx.stack?.stop();
  rmSync(ctx.dataDir, { recursive: true, force: true });
});

cluster(
  'primary SIGKILLs, CLUSTER FAILOVERs, a replica SIGKILL: nothing acknowledged lost, money conserved',
  async (ctx) => {
    const lines: string[] = [];
    const report = await runChaos({
      plan: ctx.stack.plan,
      seed: 1919,
      kills: 0,
      durationMs: 240_000,
      intervalMs: 300,
      components: [],
      clusterFaults: { primaryKills: 3, failovers: 3, replicaKills: 1 },
      transferClients: CLIENTS,
      verify: true,
      quietMs: 30_000,
      say: (line) => lines.push(line),
    });
    const explain = `${lines.join('\n')}\n${formatReport(report, 300)}\n${troubles(ctx)}`;
    const faults = report.clusterFaults ?? [];
    assert.equal(
      [faults.filter((f) => f.fault === 'primary').length, faults.filter((f) => f.fault === 'failover').length],
      [3, 3],
      explain,
    );
    assert.ok(
      faults.every((f) => f.wholeAfterMs !== undefined),
      `the cluster whole again after each fault\n${explain}`,
    );
    const money = report.money;
    assert.ok((report.transfers?.accepted ?? 0) > 0, 'the load moved money');
    assert.equal(money?.transfers.lost, [], 'no acknowledged transfer lost');
    assert.equal(money?.indeterminate.problems, [], 'every indeterminate transfer has one outcome');
    assert.equal(money?.transfers.unsettled, []);
    assert.equal(money?.wrongEntries, []);
    assert.ok(money?.conserved, `conserved\n${explain}`);
    assert.equal(money?.audit?.stuck, 0);
    assert.equal(money?.audit?.violations, []);
    assert.equal(report.transfers?.unexpected, [], 'no 500 (nor any answer but 202, 503 and the fair 422)');
    assert.ok(report.passed, explain);
  },
);

/** Transfers from CLIENTS clients through `targets` while a failover is forced with the transfers stream's replicas lagging. */
async function laggingFailoverUnderLoad(
  ctx: Context,
  seed: number,
  until: (load: TransferLoad) => boolean,
  targets?: string[],
) {
  const lines: string[] = [];
  const load = startTransferLoad(ctx.stack.plan, seed, CLIENTS, 5, () => [], targets);
  try {
    await waitFor(
      'the load to have transfers accepted',
      () => load.counts.accepted,
      (n) => n >= 10,
      { timeoutMs: 30_000 },
    );
    await failOverLagging(
      ctx.stack.plan,
      async () => {
        await waitFor('the window to see what it waits for', () => until(load), Boolean, { timeoutMs: 15_000 }).catch(
          (error: Error) => {
            throw new Error(`${error.message}\n${JSON.stringify(load.counts)}\n${lines.join('\n')}\n${troubles(ctx)}`);
          },
        );
      },
      (line) => lines.push(line),
    );
    // A few transfers on the new primary before the load stops.
    const after = load.counts.accepted;
    await waitFor(
      'transfers accepted after the failover',
      () => load.counts.accepted,
      (n) => n >= after + 10,
      {
        timeoutMs: 30_000,
      },
    );
  } finally {
    await load.stop(30_000);
  }
  const money = await verifyMoney(ctx.stack.plan, load.accepted, 20_000, load.indeterminate);
  return { load, money, lines };
}

cluster(
  'a failover while the replicas lag, with confirmation: the window is answered indeterminate, nothing acknowledged lost',
  async (ctx) => {
    const { load, money, lines } = await laggingFailoverUnderLoad(ctx, 77, (l) => l.counts.indeterminate.answers >= 1);
    const explain = `${lines.join('\n')}\n${JSON.stringify({ counts: load.counts, money }, null, 2)}\n${troubles(ctx)}`;
    assert.ok(load.counts.indeterminate.transfers >= 1, `requests answered indeterminate\n${explain}`);
    assert.equal(money.transfers.lost, [], `no acknowledged transfer lost\n${explain}`);
    assert.equal(money.indeterminate.problems, [], `one outcome each\n${explain}`);
    assert.is(
      money.indeterminate.accepted +
        money.indeterminate.refused +
        money.indeterminate.found +
        money.indeterminate.neverMade,
      money.indeterminate.transfers,
      explain,
    );
    assert.equal(load.counts.unexpected, [], explain);
    // The books as the streams hold them: every accepted transfer settled once, nothing settled that
    // was never requested, each ledger's balance the fold of its stream, and they add up to the supply.
    assert.equal(
      [money.transfers.unsettled, money.wrongEntries, money.negative, money.stateMismatches],
      [[], [], [], []],
      explain,
    );
    assert.is(money.pendingInGroup, 0, explain);
    assert.equal([money.balances, money.issuedIntoLedgers], [money.issued, money.issued], explain);
    // The services' views of the books too: the accounts' live balances are the folds of their
    // ledgers, and balance's /audit is conserved with no violation. Their projections apply only
    // entries a replica holds (confirmRead); before, they applied what the failover then lost and
    // folded what came next on top (seen: mary-account serving -6 while its ledger folded to 29).
    assert.equal(money.replayMismatches, [], explain);
    assert.equal([money.audit?.violations, money.audit?.stuck], [[], 0], explain);
    assert.ok(money.conserved, explain);
    assert.ok(money.passed, explain);
  },
);

cluster(
  'negative control: with confirmation off, the same failover loses an acknowledged transfer, and the check says so',
  async (ctx) => {
    const unconfirmed = await startUnconfirmedTransfer(ctx.stack.plan);
    let result: Awaited<ReturnType<typeof laggingFailoverUnderLoad>>;
    try {
      let before = Number.POSITIVE_INFINITY;
      result = await laggingFailoverUnderLoad(
        ctx,
        78,
        (l) => {
          // Accepted while the replicas are frozen: the first call marks where the window starts.
          before = Math.min(before, l.counts.accepted);
          return l.counts.accepted >= before + 5;
        },
        [unconfirmed.url],
      );
    } finally {
      await unconfirmed.stop();
    }
    const { load, money, lines } = result;
    const explain = `${lines.join('\n')}\n${JSON.stringify({ counts: load.counts, money }, null, 2)}\n${troubles(ctx)}`;
    assert.is(load.counts.indeterminate.answers, 0, 'with confirmation off nothing is answered indeterminate');
    assert.ok(money.transfers.lost.length >= 1, `the check finds an acknowledged transfer lost\n${explain}`);
    assert.is(money.passed, false, explain);
  },
);

cluster.run();
