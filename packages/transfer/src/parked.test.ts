/**
 * A transfer whose saga keeps failing, against a real Redis: it is run again after a growing
 * backoff (the processor never spins, even restarted under the same name with more failing
 * entries than it reads at once), other transfers settle meanwhile, it is parked at its Nth
 * delivery with its reason, and once the cause is fixed a re-apply settles it once.
 */
import { randomUUID } from 'node:crypto';
import {
  type LedgerEvent,
  ledgerEvents,
  ledgerKey,
  ledgerStepsKey,
  parkedKey,
  REASON_MAX_LENGTH,
  transfersKey,
} from '@microbank/events';
import { issueSupply, openingIssuance, openLedger } from '@microbank/ledger';
import { createMetrics } from '@microbank/service-runtime';
import { connectRedis, decodeEntry, silentLog } from '@microbank/streams';
import { assertRejects, type RedisContext, readStream, redisSuite, uniquePrefix, waitFor } from '@microbank/testing';
import * as assert from 'uvu/assert';
import { parkEntry, parkedTransfers, reapplyParked } from './parked.ts';
import { PROCESSORS_GROUP, type Processor, type ProcessorOptions, startProcessor } from './processor.ts';
import { requestTransfer, transferStatus } from './transfer-log.ts';
import { registerTransferMetrics } from './transfer-metrics.ts';

type Extra = { prefix: string; processors: Processor[] };
type Context = RedisContext & Extra;

const parked = redisSuite<Extra>('parked transfers', {
  connect: (url) => connectRedis(url, 'test', silentLog),
  extra: { processors: [] },
});

parked.before.each(async (ctx) => {
  ctx.prefix = uniquePrefix();
  for (const account of ['john-account', 'mary-account', 'kate-account']) {
    await openLedger(ctx.redis, account, ctx.prefix);
    await issueSupply(ctx.redis, { issuance: openingIssuance(account), account, amount: 1_000 }, ctx.prefix);
  }
});
parked.after.each(async (ctx) => {
  for (const processor of ctx.processors.splice(0)) await processor.stop();
});

const CLAIM_IDLE_MS = 500;
const BLOCK_MS = 200;
/** More than a saga run takes, under load too: it debits (a repeat), then fails to credit. */
const SAGA_MS = 100;

type Options = Partial<Pick<ProcessorOptions, 'log' | 'batch' | 'maxDeliveries' | 'retryBackoff'>>;

function processor(ctx: Context, consumer: string, options: Options = {}): Processor {
  const started = startProcessor({
    redis: ctx.redis,
    blockRedis: connectRedis(ctx.redisServer.url, consumer, silentLog),
    log: silentLog,
    consumer,
    claimIdleMs: CLAIM_IDLE_MS,
    blockMs: BLOCK_MS,
    prefix: ctx.prefix,
    ...options,
  });
  ctx.processors.push(started);
  return started;
}

async function stopAll(ctx: Context): Promise<void> {
  for (const processor of ctx.processors.splice(0)) await processor.stop();
}

async function request(ctx: Context, from: string, to: string, amount: number) {
  const requested = await requestTransfer(ctx.redis, { from, to, amount }, 'test', randomUUID(), ctx.prefix);
  if (requested.kind !== 'new') throw new Error(`not a new transfer: ${requested.kind}`);
  return requested;
}

/** kate's credits fail for good (WRONGTYPE): her ledger's steps are a string instead of a hash. */
const breakKate = (ctx: Context) => ctx.redis.set(ledgerStepsKey('kate-account', ctx.prefix), 'broken');
/** Nothing was ever recorded there: the fix loses no step. */
const fixKate = (ctx: Context) => ctx.redis.del(ledgerStepsKey('kate-account', ctx.prefix));

/** Each failure the processor logs, with when it was logged. */
interface Failure {
  transfer: string;
  deliveries: number;
  retryInMs: number;
  at: number;
}

function failureLog() {
  const failures: Failure[] = [];
  const log = {
    ...silentLog,
    warn(obj: object, msg?: string) {
      const { transfer, deliveries, retryInMs } = obj as Partial<Failure>;
      if (msg?.startsWith('transfer not settled yet') && transfer && deliveries && retryInMs !== undefined) {
        failures.push({ transfer, deliveries, retryInMs, at: performance.now() });
      }
    },
  };
  return { log, failures, of: (transfer: string) => failures.filter((failure) => failure.transfer === transfer) };
}

/** How many times the test's Redis ran `command` since the last CONFIG RESETSTAT. */
async function calls(ctx: Context, command: string): Promise<number> {
  const stats = await ctx.redis.info('commandstats');
  return Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(stats)?.[1] ?? 0);
}

async function eventsOf(ctx: Context, account: string): Promise<LedgerEvent[]> {
  return (await readStream(ctx.redis, ledgerKey(account, ctx.prefix))).map(([, fields]) => {
    const decoded = decodeEntry(ledgerEvents, fields);
    if (!decoded.ok) throw new Error(decoded.reason);
    return decoded.event;
  });
}

/** The ledger entries of `type` for `transfer` on `account`'s ledger. */
async function stepsOf(ctx: Context, account: string, type: LedgerEvent['type'], transfer: string) {
  return (await eventsOf(ctx, account)).filter(
    (event) => event.type === type && (event.data as { transfer?: string }).transfer === transfer,
  );
}

const settled = (ctx: Context, transfer: string) =>
  waitFor(
    `transfer ${transfer} to settle`,
    () => transferStatus(ctx.redis, transfer, ctx.prefix),
    (status) => status !== undefined && status.status !== 'pending',
  );

const pendingCount = async (ctx: Context) =>
  ((await ctx.redis.xpending(transfersKey(ctx.prefix), PROCESSORS_GROUP)) as [number])[0];

parked(
  'a saga that keeps failing backs off between deliveries, restarted too, and other transfers settle meanwhile',
  async (ctx) => {
    await breakKate(ctx);
    const backoff = { firstMs: 300, capMs: 600 };
    // More failing entries than a read brings (batch 2): the old restart path read its own pending
    // entries again and again for as long as a full batch came back.
    const options = { batch: 2, maxDeliveries: 1_000, retryBackoff: backoff };
    await ctx.redis.config('RESETSTAT');
    const started = performance.now();
    const first = failureLog();
    processor(ctx, 'steady', { ...options, log: first.log });
    const failing: string[] = [];
    for (let i = 0; i < 3; i++) failing.push((await request(ctx, 'john-account', 'kate-account', 1)).transfer);
    await waitFor(
      'each failing transfer to fail 4 times',
      () => failing.map((transfer) => first.of(transfer).length),
      (counts) => counts.every((count) => count >= 4),
      { timeoutMs: 30_000 },
    );
    const others: string[] = [];
    for (let i = 0; i < 10; i++) others.push((await request(ctx, 'john-account', 'mary-account', 2)).transfer);
    for (const transfer of others) assert.is((await settled(ctx, transfer))?.status, 'completed');

    // The same consumer name after a restart: what it held is run at once, then backs off again.
    await stopAll(ctx);
    const second = failureLog();
    processor(ctx, 'steady', { ...options, log: second.log });
    await waitFor(
      'each failing transfer to fail twice more after the restart',
      () => failing.map((transfer) => second.of(transfer).length),
      (counts) => counts.every((count) => count >= 2),
      { timeoutMs: 30_000 },
    );
    await stopAll(ctx);
    const elapsedMs = performance.now() - started;

    for (const transfer of failing) {
      const runs = [...first.of(transfer), ...second.of(transfer)];
      // Every delivery (Redis counts them, across the restart) is one saga run, one failure.
      assert.equal(
        runs.map((run) => run.deliveries),
        runs.map((_, i) => i + 1),
        'one failure per delivery',
      );
      for (const [k, run] of first.of(transfer).entries()) {
        assert.ok(run.retryInMs >= Math.min(backoff.capMs, backoff.firstMs * 2 ** k) / 2, `backoff ${k}`);
      }
      // Run again no sooner than its backoff, which runs from the delivery: the time between two
      // failures is that less the first saga's time, which stays below SAGA_MS.
      for (const log of [first.of(transfer), second.of(transfer)]) {
        for (let k = 1; k < log.length; k++) {
          const [before, after] = [log[k - 1] as Failure, log[k] as Failure];
          assert.ok(
            after.at - before.at >= before.retryInMs - SAGA_MS,
            `delivery ${after.deliveries} of ${transfer} came ${Math.round(after.at - before.at)} ms after the previous failure, its backoff ${before.retryInMs} ms`,
          );
        }
      }
    }
    // No spinning: the pending list is looked at once per claimIdleMs / 4, or when an entry is due
    // (twice at most per failure), in pages of 2 entries; a read waits up to blockMs or the next look.
    const failures = first.failures.length + second.failures.length;
    const passes = elapsedMs / (CLAIM_IDLE_MS / 4) + 2 * failures + 4;
    const xpending = await calls(ctx, 'xpending');
    const xreadgroup = await calls(ctx, 'xreadgroup');
    assert.ok(
      xpending <= 2 * passes,
      `XPENDING ${xpending} times in ${Math.round(elapsedMs)} ms (bound ${Math.round(2 * passes)})`,
    );
    const reads = passes + elapsedMs / BLOCK_MS + others.length + 4;
    assert.ok(
      xreadgroup <= reads,
      `XREADGROUP ${xreadgroup} times in ${Math.round(elapsedMs)} ms (bound ${Math.round(reads)})`,
    );
    for (const transfer of failing)
      assert.is((await transferStatus(ctx.redis, transfer, ctx.prefix))?.status, 'pending');
    assert.equal((await parkedTransfers(ctx.redis, ctx.prefix)).transfers, []);
  },
);

parked(
  'a saga that always fails is parked at its Nth delivery with its reason; fixed and re-applied, it settles once',
  async (ctx) => {
    await breakKate(ctx);
    const { log, of } = failureLog();
    const running = processor(ctx, 'parker', { log, maxDeliveries: 3, retryBackoff: { firstMs: 50, capMs: 100 } });
    const metrics = createMetrics('transfer');
    registerTransferMetrics(metrics, running);
    const stuck = await request(ctx, 'john-account', 'kate-account', 30);
    const fine = await request(ctx, 'john-account', 'mary-account', 5);
    const [entry] = await waitFor(
      'the failing transfer to be parked',
      async () => (await parkedTransfers(ctx.redis, ctx.prefix)).transfers,
      (transfers) => transfers.length > 0,
      { timeoutMs: 30_000 },
    );
    assert.is((await settled(ctx, fine.transfer))?.status, 'completed');
    if (!entry) throw new Error('nothing parked');
    assert.equal(
      { ...entry, reason: undefined, parkedAt: undefined },
      {
        parked: entry.parked,
        entry: stuck.position,
        transfer: stuck.transfer,
        from: 'john-account',
        to: 'kate-account',
        amount: 30,
        reason: undefined,
        deliveries: 3,
        parkedAt: undefined,
      },
    );
    assert.match(entry.reason, /WRONGTYPE/);
    assert.ok(!Number.isNaN(Date.parse(entry.parkedAt)));
    // Run at each of its 3 deliveries and no more: parked and acknowledged at the third.
    assert.equal(
      of(stuck.transfer).map((failure) => failure.deliveries),
      [1, 2],
    );
    assert.is(running.counts.failed, 3);
    assert.is(running.counts.parked, 1);
    assert.is(await pendingCount(ctx), 0, 'acknowledged');
    const exposed = await metrics.registry.metrics();
    assert.match(exposed, /microbank_transfers_parked_total\{microbank_service="transfer"\} 1\n/);
    assert.match(exposed, /microbank_transfers_failed_total\{microbank_service="transfer"\} 3\n/);
    // The processor goes on: a later transfer settles, the parked one is not run again.
    const later = await request(ctx, 'mary-account', 'john-account', 7);
    assert.is((await settled(ctx, later.transfer))?.status, 'completed');
    assert.is(running.counts.failed, 3);
    assert.is((await transferStatus(ctx.redis, stuck.transfer, ctx.prefix))?.status, 'pending');

    // Re-applied before the fix: it fails again, and stays parked.
    await assertRejects(() => reapplyParked(ctx.redis, entry.parked, ctx.prefix), /WRONGTYPE/);
    assert.is((await parkedTransfers(ctx.redis, ctx.prefix)).transfers[0]?.reapplied, undefined);

    await fixKate(ctx);
    assert.equal(await reapplyParked(ctx.redis, entry.parked, ctx.prefix), {
      kind: 'reapplied',
      transfer: stuck.transfer,
      status: 'completed',
    });
    const again = await reapplyParked(ctx.redis, entry.parked, ctx.prefix);
    assert.equal(
      { ...again, at: undefined },
      { kind: 'already', transfer: stuck.transfer, status: 'completed', at: undefined },
    );
    assert.is((await transferStatus(ctx.redis, stuck.transfer, ctx.prefix))?.status, 'completed');
    assert.is((await stepsOf(ctx, 'john-account', 'Debited', stuck.transfer)).length, 1);
    assert.is((await stepsOf(ctx, 'kate-account', 'Credited', stuck.transfer)).length, 1);
    const outcomes = (await readStream(ctx.redis, transfersKey(ctx.prefix))).filter(
      ([, fields]) => fields[1] === 'TransferCompleted' && (fields[5] ?? '').includes(stuck.transfer),
    );
    assert.is(outcomes.length, 1, 'settled once');
    assert.equal((await parkedTransfers(ctx.redis, ctx.prefix)).transfers[0]?.reapplied?.status, 'completed');
    assert.equal(await reapplyParked(ctx.redis, '1-1', ctx.prefix), { kind: 'unknown' });
  },
);

parked('an entry is parked once, by the consumer that holds it, its reason cut to size', async (ctx) => {
  const t = await request(ctx, 'john-account', 'mary-account', 3);
  const stream = transfersKey(ctx.prefix);
  await ctx.redis.xgroup('CREATE', stream, PROCESSORS_GROUP, '0', 'MKSTREAM');
  await ctx.redis.xreadgroup('GROUP', PROCESSORS_GROUP, 'holder', 'COUNT', 10, 'STREAMS', stream, '>');
  const parking = {
    entry: t.position,
    transfer: { transfer: t.transfer, from: 'john-account', to: 'mary-account', amount: 3 },
    reason: 'x'.repeat(5_000),
    deliveries: 5,
  };
  assert.is(await parkEntry(ctx.redis, { ...parking, consumer: 'another' }, ctx.prefix), undefined);
  assert.is(await ctx.redis.xlen(parkedKey(ctx.prefix)), 0, 'not parked by a consumer that does not hold it');
  assert.is(await pendingCount(ctx), 1);
  const at = await parkEntry(ctx.redis, { ...parking, consumer: 'holder' }, ctx.prefix);
  assert.ok(at);
  assert.is(await pendingCount(ctx), 0, 'acknowledged with the parking');
  assert.is(await parkEntry(ctx.redis, { ...parking, consumer: 'holder' }, ctx.prefix), undefined);
  const { transfers, skipped } = await parkedTransfers(ctx.redis, ctx.prefix);
  assert.is(skipped, 0);
  assert.equal(
    transfers.map((transfer) => [transfer.parked, transfer.transfer, transfer.reason.length]),
    [[at, t.transfer, REASON_MAX_LENGTH]],
  );
});

parked.run();
