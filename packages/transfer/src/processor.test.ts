/**
 * The saga and its processors against a real Redis: two processors share the work, a processor
 * that died mid-transfer leaves its entries to be claimed and finished, and a saga run again from
 * any step moves nothing twice.
 */
import { randomUUID } from 'node:crypto';
import {
  type LedgerEvent,
  ledgerEvents,
  ledgerKey,
  presenceKey,
  processorsPresenceKey,
  transferStatusKey,
  transfersKey,
} from '@microbank/events';
import { credit, debit, issueSupply, openingIssuance } from '@microbank/ledger';
import { closeRedis, connectRedis, decodeEntry, livePresence, silentLog, untilReady } from '@microbank/streams';
import {
  assertRejects,
  type RedisContext,
  readStream,
  recordingLog,
  redisSuite,
  startTestRedis,
  uniquePrefix,
  waitFor,
} from '@microbank/testing';
import * as assert from 'uvu/assert';
import { PROCESSORS_GROUP, type Processor, type ProcessorOptions, startProcessor } from './processor.ts';
import { runSaga } from './saga.ts';
import { requestTransfer, settleTransfer, type TransferStatus, transferStatus } from './transfer-log.ts';

type Extra = { prefix: string; processors: Processor[] };
type Context = RedisContext & Extra;

const saga = redisSuite<Extra>('transfer saga and processors', {
  connect: (url) => connectRedis(url, 'test', silentLog),
  extra: { processors: [] },
});

saga.before.each(async (ctx) => {
  ctx.prefix = uniquePrefix();
  for (const account of ['john-account', 'mary-account']) {
    await issueSupply(ctx.redis, { issuance: openingIssuance(account), account, amount: 100 }, ctx.prefix);
  }
});
saga.after.each(async (ctx) => {
  for (const processor of ctx.processors.splice(0)) await processor.stop();
});

/** A processor of this test's prefix, stopped after the test; `given` replaces its connections or log. */
function processor(
  ctx: Context,
  consumer: string,
  given: Partial<Pick<ProcessorOptions, 'redis' | 'blockRedis' | 'log' | 'claimIdleMs'>> = {},
): Processor {
  const started = startProcessor({
    redis: ctx.redis,
    blockRedis: given.blockRedis ?? connectRedis(ctx.redisServer.url, consumer, silentLog),
    log: silentLog,
    consumer,
    claimIdleMs: 500,
    blockMs: 200,
    prefix: ctx.prefix,
    ...given,
  });
  ctx.processors.push(started);
  return started;
}

async function request(ctx: Context, from: string, to: string, amount: number): Promise<TransferStatus> {
  const requested = await requestTransfer(ctx.redis, { from, to, amount }, 'test', randomUUID(), ctx.prefix);
  const status = await transferStatus(ctx.redis, requested.transfer, ctx.prefix);
  if (!status) throw new Error('no status');
  return status;
}

async function eventsOf(ctx: Context, account: string): Promise<LedgerEvent[]> {
  return (await readStream(ctx.redis, ledgerKey(account, ctx.prefix))).map(([, fields]) => {
    const decoded = decodeEntry(ledgerEvents, fields);
    if (!decoded.ok) throw new Error(decoded.reason);
    return decoded.event;
  });
}

const settledStatus = (ctx: Context, transfer: string) =>
  waitFor(
    `transfer ${transfer} to settle`,
    () => transferStatus(ctx.redis, transfer, ctx.prefix),
    (status) => status !== undefined && status.status !== 'pending',
  ) as Promise<TransferStatus>;

saga('two processors share the work; every transfer settles once, money is conserved', async (ctx) => {
  const first = processor(ctx, 'first');
  const second = processor(ctx, 'second');
  const transfers: TransferStatus[] = [];
  for (let i = 0; i < 200; i++) {
    transfers.push(
      await request(ctx, i % 2 ? 'john-account' : 'mary-account', i % 2 ? 'mary-account' : 'john-account', 1 + (i % 7)),
    );
  }
  for (const t of transfers) await settledStatus(ctx, t.transfer);
  assert.ok(
    first.counts.settled > 0 && second.counts.settled > 0,
    `shared: ${first.counts.settled} and ${second.counts.settled}`,
  );
  assert.is(first.counts.settled + second.counts.settled, 200);
  const events = [...(await eventsOf(ctx, 'john-account')), ...(await eventsOf(ctx, 'mary-account'))];
  const debits = events.filter((e) => e.type === 'Debited').map((e) => (e.data as { transfer: string }).transfer);
  const credits = events.filter((e) => e.type === 'Credited').map((e) => (e.data as { transfer: string }).transfer);
  assert.is(new Set(debits).size, debits.length, 'each debit once');
  assert.is(new Set(credits).size, credits.length, 'each credit once');
  const pending = (await ctx.redis.xpending(transfersKey(ctx.prefix), PROCESSORS_GROUP)) as [number];
  assert.is(pending[0], 0, 'nothing left pending');
});

saga('a processor that died mid-transfer: its entry is claimed by another and finished, debited once', async (ctx) => {
  const t = await request(ctx, 'john-account', 'mary-account', 40);
  // The dead processor took the entry and debited, then died before crediting or acknowledging.
  await ctx.redis.xgroup('CREATE', transfersKey(ctx.prefix), PROCESSORS_GROUP, '0', 'MKSTREAM');
  await ctx.redis.xreadgroup('GROUP', PROCESSORS_GROUP, 'dead', 'COUNT', 10, 'STREAMS', transfersKey(ctx.prefix), '>');
  await debit(ctx.redis, t, ctx.prefix);
  const survivor = processor(ctx, 'survivor');
  const settled = await settledStatus(ctx, t.transfer);
  assert.is(settled.status, 'completed');
  assert.ok(survivor.counts.claimed >= 1, 'claimed');
  assert.is((await eventsOf(ctx, 'john-account')).filter((e) => e.type === 'Debited').length, 1);
  assert.is((await eventsOf(ctx, 'mary-account')).filter((e) => e.type === 'Credited').length, 1);
});

saga('a saga run again after each of its steps moves nothing twice', async (ctx) => {
  const afterDebit = await request(ctx, 'john-account', 'mary-account', 10);
  await debit(ctx.redis, afterDebit, ctx.prefix);
  const afterCredit = await request(ctx, 'john-account', 'mary-account', 20);
  const debited = await debit(ctx.redis, afterCredit, ctx.prefix);
  if (debited.outcome.kind !== 'debited') throw new Error('not debited');
  await credit(ctx.redis, afterCredit, debited.outcome.position, ctx.prefix);
  const afterAll = await request(ctx, 'john-account', 'mary-account', 30);
  await runSaga(ctx.redis, afterAll, ctx.prefix);
  for (const t of [afterDebit, afterCredit, afterAll, afterAll]) await runSaga(ctx.redis, t, ctx.prefix);
  const john = await eventsOf(ctx, 'john-account');
  const mary = await eventsOf(ctx, 'mary-account');
  assert.is(john.filter((e) => e.type === 'Debited').length, 3);
  assert.is(mary.filter((e) => e.type === 'Credited').length, 3);
  const settled = (await readStream(ctx.redis, transfersKey(ctx.prefix))).filter(
    ([, f]) => f[1] === 'TransferCompleted',
  );
  assert.is(settled.length, 3, 'each transfer settled once');
});

saga('a credit refused (the account has no ledger): the debit is given back, the transfer rejected', async (ctx) => {
  const t = await request(ctx, 'john-account', 'ghost-account', 25);
  const settlement = await runSaga(ctx.redis, t, ctx.prefix);
  assert.equal(
    { ...settlement, refund: undefined },
    { type: 'TransferRejected', reason: 'unknown-account', refund: undefined },
  );
  const status = await transferStatus(ctx.redis, t.transfer, ctx.prefix);
  assert.equal([status?.status, status?.reason], ['rejected', 'unknown-account']);
  assert.equal(
    (await eventsOf(ctx, 'john-account')).map((e) => e.type),
    ['AccountOpened', 'Issued', 'Debited', 'Refunded'],
  );
});

saga('a transfer from an account to itself is rejected without touching a ledger', async (ctx) => {
  const t = await request(ctx, 'john-account', 'john-account', 5);
  const before = (await eventsOf(ctx, 'john-account')).length;
  assert.equal(await runSaga(ctx.redis, t, ctx.prefix), { type: 'TransferRejected', reason: 'same-account' });
  assert.is((await eventsOf(ctx, 'john-account')).length, before);
});

saga(
  'a processor started while its commands connection is still connecting waits for it: no warning, then it settles',
  async (ctx) => {
    const { log, lines } = recordingLog();
    // The blocking connection ready first, the commands connection opened just now: the processor
    // finds the one ready and the other still connecting.
    const blockRedis = connectRedis(ctx.redisServer.url, 'fresh-block', silentLog);
    await untilReady(blockRedis);
    const redis = connectRedis(ctx.redisServer.url, 'fresh-commands', silentLog);
    processor(ctx, 'fresh', { redis, blockRedis, log });
    try {
      const t = await request(ctx, 'john-account', 'mary-account', 5);
      await waitFor(
        'the transfer to settle',
        () => transferStatus(ctx.redis, t.transfer, ctx.prefix),
        (status) => status?.status === 'completed',
      );
      assert.equal(
        lines.filter((line) => line.level === 'warn' || line.level === 'error'),
        [],
      );
    } finally {
      // The processor first (it uses the connection), then the connection.
      for (const running of ctx.processors.splice(0)) await running.stop();
      await closeRedis(redis);
    }
  },
);

saga('a processor is present under the processors` key of its prefix, never as an account', async (ctx) => {
  processor(ctx, 'present');
  const instances = async (key: string) => (await livePresence(ctx.redis, key)).map(({ instance }) => instance);
  await waitFor(
    'the processor`s presence',
    () => instances(processorsPresenceKey(ctx.prefix)),
    (live) => live.includes('present'),
  );
  // An account may be called anything a DNS label allows, "transfer-processors" included.
  assert.equal(await instances(presenceKey('transfer-processors')), []);
  assert.equal(await instances(presenceKey('transfer-processors', ctx.prefix)), []);
  assert.equal(await instances(processorsPresenceKey()), []);
});

saga('the saga moves what the transfers-stream entry asks for, not the status hash`s copy of it', async (ctx) => {
  const t = await request(ctx, 'john-account', 'mary-account', 10);
  // The status hash's JSON says otherwise: tampered with, or a number cjson rounded on its way
  // through a script. It only tells whether the transfer is settled.
  const tampered = { ...t, to: 'ghost-account', amount: 90 };
  await ctx.redis.set(transferStatusKey(t.transfer, ctx.prefix), JSON.stringify(tampered));
  processor(ctx, 'honest');
  const settled = await settledStatus(ctx, t.transfer);
  assert.equal([settled.status, settled.to, settled.amount], ['completed', 'mary-account', 10]);
  const amounts = async (account: string, type: LedgerEvent['type']) =>
    (await eventsOf(ctx, account)).filter((e) => e.type === type).map((e) => (e.data as { amount: number }).amount);
  assert.equal(await amounts('john-account', 'Debited'), [10]);
  assert.equal(await amounts('mary-account', 'Credited'), [10]);
});

saga(
  'the group read from the start again: a settled transfer delivered anew moves nothing, settles and counts once',
  async (ctx) => {
    const one = processor(ctx, 'one');
    const t = await request(ctx, 'john-account', 'mary-account', 5);
    await settledStatus(ctx, t.transfer);
    await waitFor(
      'the settlement counted',
      () => one.counts.settled,
      (n) => n === 1,
    );
    const stream = transfersKey(ctx.prefix);
    const entries = (await readStream(ctx.redis, stream)).length;
    const steps = [...(await eventsOf(ctx, 'john-account')), ...(await eventsOf(ctx, 'mary-account'))].length;
    const end = (await readStream(ctx.redis, stream)).at(-1)?.[0];
    // As if Redis had lost the group and it were made again from the start: every entry is new to it.
    await ctx.redis.xgroup('SETID', stream, PROCESSORS_GROUP, '0');
    await waitFor(
      'the group to have read and acknowledged every entry again',
      async () => {
        const group = await processorsGroup(ctx);
        return [group?.['last-delivered-id'], group?.pending];
      },
      ([last, pending]) => last === end && pending === 0,
    );
    assert.is(one.counts.settled, 1, 'a repeated settlement is not counted');
    assert.is((await readStream(ctx.redis, stream)).length, entries, 'no second settlement entry');
    const after = [...(await eventsOf(ctx, 'john-account')), ...(await eventsOf(ctx, 'mary-account'))];
    assert.is(after.length, steps, 'no ledger entry added');
  },
);

saga('the settlement acknowledges its request in the same write: both or, on a full Redis, neither', async (ctx) => {
  const t = await request(ctx, 'john-account', 'mary-account', 5);
  const stream = transfersKey(ctx.prefix);
  const entry = t.position ?? '';
  await ctx.redis.xgroup('CREATE', stream, PROCESSORS_GROUP, '0', 'MKSTREAM');
  const deliver = () =>
    ctx.redis.xreadgroup('GROUP', PROCESSORS_GROUP, 'p', 'COUNT', 1, 'STREAMS', stream, '>') as Promise<unknown>;
  await deliver();
  const pending = async () => ((await ctx.redis.xpending(stream, PROCESSORS_GROUP)) as [number])[0];
  const settlements = async () =>
    (await readStream(ctx.redis, stream)).filter(([, fields]) => fields[1] === 'TransferCompleted').length;
  const settle = (ack = { group: PROCESSORS_GROUP, entry }) =>
    settleTransfer(ctx.redis, t, { type: 'TransferCompleted', debit: '1-1', credit: '1-2' }, ctx.prefix, 60_000, ack);
  assert.is(await pending(), 1);

  // An entry that XACK would refuse is refused before anything is written.
  await assertRejects(() => settle({ group: PROCESSORS_GROUP, entry: '18446744073709551616-0' }), /stream ID/);
  assert.is(await settlements(), 0);

  // Full: the settlement is refused, and the request is not acknowledged without it.
  await ctx.redis.config('SET', 'maxmemory', '1');
  try {
    await assertRejects(() => settle(), /OOM/);
  } finally {
    await ctx.redis.config('SET', 'maxmemory', '0');
  }
  assert.is(await pending(), 1, 'still pending: its transfer is not settled');
  assert.is(await settlements(), 0);
  assert.is((await transferStatus(ctx.redis, t.transfer, ctx.prefix))?.status, 'pending');

  assert.equal(await settle(), { repeated: false });
  assert.is(await pending(), 0, 'acknowledged with its settlement');
  assert.is(await settlements(), 1);

  // Delivered again (the group set back): the repeat acknowledges it too, and settles nothing more.
  await ctx.redis.xgroup('SETID', stream, PROCESSORS_GROUP, '0');
  await deliver();
  assert.is(await pending(), 1);
  assert.equal(await settle(), { repeated: true });
  assert.is(await pending(), 0);
  assert.is(await settlements(), 1);
});

saga(
  "a settlement that is its group's next entry is read at once; one behind an unread entry waits its turn",
  async (ctx) => {
    const stream = transfersKey(ctx.prefix);
    await ctx.redis.xgroup('CREATE', stream, PROCESSORS_GROUP, '0', 'MKSTREAM');
    const read = async (consumer: string) =>
      (
        (await ctx.redis.xreadgroup('GROUP', PROCESSORS_GROUP, consumer, 'COUNT', 10, 'STREAMS', stream, '>')) as Array<
          [string, Array<[string, string[]]>]
        > | null
      )?.[0]?.[1].map(([id, fields]) => [id, fields[1]]) ?? [];
    const settle = (t: TransferStatus) =>
      settleTransfer(ctx.redis, t, { type: 'TransferCompleted', debit: '1-1', credit: '1-2' }, ctx.prefix, 60_000, {
        group: PROCESSORS_GROUP,
        entry: t.position ?? '',
        consumer: 'p',
      });
    const settlementOf = async (t: TransferStatus) =>
      (await transferStatus(ctx.redis, t.transfer, ctx.prefix))?.settled;
    const group = () => processorsGroup(ctx);

    // Everything before it read: the settlement is read with it, and pending nowhere.
    const first = await request(ctx, 'john-account', 'mary-account', 5);
    assert.equal(await read('p'), [[first.position, 'TransferRequested']]);
    await settle(first);
    const settled = await settlementOf(first);
    assert.ok(settled);
    assert.is((await group())?.['last-delivered-id'], settled, 'read for the settling consumer');
    assert.is((await group())?.pending, 0, 'the request acknowledged, the settlement never pending');
    assert.equal(await read('q'), [], 'no other consumer is given it');

    // An unread request before it: nothing is read past that; both are delivered in their turn.
    const second = await request(ctx, 'john-account', 'mary-account', 6);
    assert.equal(await read('p'), [[second.position, 'TransferRequested']]);
    const third = await request(ctx, 'mary-account', 'john-account', 7);
    await settle(second);
    assert.is((await group())?.['last-delivered-id'], second.position);
    assert.equal(await read('q'), [
      [third.position, 'TransferRequested'],
      [await settlementOf(second), 'TransferCompleted'],
    ]);

    // The group set past the end of the stream (XGROUP SETID to the largest ID, which XRANGE cannot
    // start after): nothing is read, and the request is still acknowledged.
    const fourth = await request(ctx, 'mary-account', 'john-account', 8);
    assert.equal(await read('p'), [[fourth.position, 'TransferRequested']]);
    const end = '18446744073709551615-18446744073709551615';
    await ctx.redis.xgroup('SETID', stream, PROCESSORS_GROUP, end);
    const pendingBefore = (await group())?.pending;
    await settle(fourth);
    assert.ok(await settlementOf(fourth));
    assert.is((await group())?.['last-delivered-id'], end);
    assert.is((await group())?.pending, Number(pendingBefore) - 1, 'the request acknowledged');
  },
);

saga(
  'settlements of a delivery of 4 requests or more are left to be read and skipped: a busy group is behind',
  async (ctx) => {
    const stream = transfersKey(ctx.prefix);
    await ctx.redis.xgroup('CREATE', stream, PROCESSORS_GROUP, '0', 'MKSTREAM');
    for (let i = 0; i < 4; i++) await request(ctx, 'john-account', 'mary-account', 1);
    // Its first read brings the four at once.
    const one = processor(ctx, 'one');
    await waitFor(
      'the four settled, and their settlements read and skipped',
      async () => ({ ...one.counts }),
      ({ settled, skipped }) => settled === 4 && skipped === 4,
    );
    assert.is((await readStream(ctx.redis, stream)).length, 8);
  },
);

saga(
  'a request its own script delivers is run by the processor that made room, with no read of the group',
  async (ctx) => {
    const stream = transfersKey(ctx.prefix);
    // The processor's reads go to another Redis, where its group is empty: on this one, only the
    // request script delivers to it.
    const elsewhere = await startTestRedis();
    const there = connectRedis(elsewhere.url, 'elsewhere', silentLog);
    try {
      await untilReady(there);
      await there.xgroup('CREATE', stream, PROCESSORS_GROUP, '0', 'MKSTREAM');
      await ctx.redis.xgroup('CREATE', stream, PROCESSORS_GROUP, '0', 'MKSTREAM');
      // Its pending list looked at on start only (claimIdleMs / 4 = 15 s): the entry the script
      // delivers is run because it is handed over, not found there.
      const taker = processor(ctx, 'taker', {
        blockRedis: connectRedis(elsewhere.url, 'taker', silentLog),
        claimIdleMs: 60_000,
      });
      // Past its first look at the pending list: waiting on its read, elsewhere.
      await waitFor(
        'the processor to wait on its read of the other Redis',
        async () => (await there.client('LIST')) as string,
        (clients) => /cmd=xreadgroup/.test(clients),
      );
      const reservation = taker.reserve();
      if (!reservation) throw new Error('no room in an idle processor');
      assert.equal(reservation.deliverTo, { group: PROCESSORS_GROUP, consumer: 'taker' });
      const request = { from: 'john-account', to: 'mary-account', amount: 3 };
      const made = await requestTransfer(ctx.redis, request, 'test', randomUUID(), ctx.prefix, undefined, {
        group: PROCESSORS_GROUP,
        consumer: 'taker',
      });
      if (made.kind !== 'new' || !made.delivered) throw new Error(`not delivered: ${JSON.stringify(made)}`);
      assert.is(made.delivered.id, made.position, 'its own request: nothing older was undelivered');
      reservation.take(made.delivered);
      assert.is((await settledStatus(ctx, made.transfer)).status, 'completed');
      assert.is(taker.counts.settled, 1);

      // The control: a request made without a consumer to deliver to is never read by this processor.
      const unread = await requestTransfer(ctx.redis, request, 'test', randomUUID(), ctx.prefix);
      if (unread.kind !== 'new') throw new Error('not new');
      assert.is(unread.delivered, undefined);
      const group = await processorsGroup(ctx);
      // Read past the request, only its settlement (read for the taker as it was written).
      assert.is(group?.['last-delivered-id'], (await settledStatus(ctx, made.transfer)).settled);
      assert.is(group?.pending, 0, 'the second request is not delivered');
      assert.is((await transferStatus(ctx.redis, unread.transfer, ctx.prefix))?.status, 'pending');
    } finally {
      there.disconnect();
      await elsewhere.dispose();
    }
  },
);

saga('a request made before its group exists is recorded; the script delivers nothing', async (ctx) => {
  const made = await requestTransfer(
    ctx.redis,
    { from: 'john-account', to: 'mary-account', amount: 3 },
    'test',
    randomUUID(),
    ctx.prefix,
    undefined,
    { group: PROCESSORS_GROUP, consumer: 'early' },
  );
  assert.is(made.kind, 'new');
  assert.is(made.kind === 'new' ? made.delivered : 'other', undefined);
  assert.is((await readStream(ctx.redis, transfersKey(ctx.prefix))).length, 1);
});

/** The processors group on this test's transfers stream, as XINFO GROUPS describes it (name -> value). */
async function processorsGroup(ctx: Context): Promise<Record<string, unknown> | undefined> {
  const groups = (await ctx.redis.xinfo('GROUPS', transfersKey(ctx.prefix))) as unknown[][];
  for (const fields of groups) {
    const group: Record<string, unknown> = {};
    for (let i = 0; i + 1 < fields.length; i += 2) group[String(fields[i])] = fields[i + 1];
    if (group.name === PROCESSORS_GROUP) return group;
  }
  return undefined;
}

saga.run();
