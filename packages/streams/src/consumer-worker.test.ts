/**
 * The consumer worker against a real Redis, with entries that mean nothing but what each test
 * says: done entries are acknowledged, a failing one comes back after its backoff with its
 * delivery counted and is parked at its Nth, Redis being away never parks, a park that fails
 * leaves the entry pending, and an entry another consumer left idle is taken over.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { type RedisContext, redisSuite, uniquePrefix, waitFor } from '@microbank/testing';
import * as assert from 'uvu/assert';
import {
  type ConsumerWorker,
  type ConsumerWorkerOptions,
  type Delivery,
  startConsumerWorker,
} from './consumer-worker.ts';
import { silentLog } from './log.ts';
import { connectRedis } from './redis-connection.ts';

interface Extra {
  stream: string;
  workers: ConsumerWorker[];
}
type Context = RedisContext & Extra;

const worker = redisSuite<Extra>('consumer worker', {
  connect: (url) => connectRedis(url, 'test:commands', silentLog),
  extra: { workers: [] },
});

worker.before.each((ctx) => {
  ctx.stream = `${uniquePrefix()}:work`;
});
worker.after.each(async (ctx) => {
  for (const started of ctx.workers.splice(0)) await started.stop();
});

const GROUP = 'workers';

/** Entries whose one field `fail` says how they end: 'no' done, anything else the error thrown. */
const add = (ctx: Context, fail = 'no') => ctx.redis.xadd(ctx.stream, '*', 'fail', fail) as Promise<string>;

type Options = Partial<ConsumerWorkerOptions<string>>;

/** A worker of the test's stream; every delivery it handles is recorded in `seen`. */
function start(ctx: Context, consumer: string, options: Options = {}) {
  const seen: Delivery[] = [];
  const started = startConsumerWorker<string>({
    redis: ctx.redis,
    blockRedis: connectRedis(ctx.redisServer.url, consumer, silentLog),
    log: silentLog,
    stream: ctx.stream,
    group: GROUP,
    consumer,
    claimIdleMs: 400,
    blockMs: 100,
    retryBackoff: { firstMs: 40, capMs: 80 },
    async handle(delivered) {
      seen.push(...delivered);
      const done: string[] = [];
      const failed = [];
      for (const delivery of delivered) {
        const fail = delivery.fields?.[1] ?? 'no';
        if (fail === 'no') done.push(delivery.id);
        else failed.push({ delivery, error: new Error(fail), about: fail });
      }
      return { done, failed };
    },
    park: async () => true,
    ...options,
  });
  ctx.workers.push(started);
  return { worker: started, seen, of: (id: string) => seen.filter((delivery) => delivery.id === id) };
}

/**
 * An entry appended and delivered to `consumer` in one step, as a script does: the worker's own
 * blocking read is served only after it, and finds nothing new.
 */
async function appendDelivered(ctx: Context, consumer: string, fail = 'no'): Promise<Delivery> {
  const [[, id], [, read]] = (await ctx.redis
    .multi()
    .xadd(ctx.stream, '*', 'fail', fail)
    .xreadgroup('GROUP', GROUP, consumer, 'COUNT', 1, 'STREAMS', ctx.stream, '>')
    .exec()) as [[null, string], [null, Array<[string, Array<[string, string[]]>]>]];
  const [deliveredId, fields] = read[0]?.[1][0] ?? [];
  if (deliveredId !== id) throw new Error(`delivered ${deliveredId}, not the entry appended, ${id}`);
  return { id, fields: fields ?? null, deliveries: 1 };
}

const pending = async (ctx: Context) => ((await ctx.redis.xpending(ctx.stream, GROUP)) as [number])[0];

/** Waits until nothing is pending in the group: every entry handled and acknowledged. */
const untilNonePending = (ctx: Context, what = 'the entry handled and acknowledged') =>
  waitFor(
    what,
    () => pending(ctx),
    (n) => n === 0,
  );

worker(
  'done entries are acknowledged; a failing one comes back after a backoff and is parked at its Nth delivery',
  async (ctx) => {
    const parked: Array<{ id: string; about: string; reason: string; deliveries: number }> = [];
    const retries: number[] = [];
    const { worker: running, of } = start(ctx, 'one', {
      maxDeliveries: 3,
      park: async ({ delivery, about }, reason) => {
        parked.push({ id: delivery.id, about, reason, deliveries: delivery.deliveries });
        await ctx.redis.xack(ctx.stream, GROUP, delivery.id);
        return true;
      },
      retrying: (_failure, retryInMs) => retries.push(retryInMs),
    });
    const fine = await add(ctx);
    const failing = await add(ctx, 'broken');
    // Counted once the park has resolved, after the test's park has recorded it.
    await waitFor(
      'the failing entry to be parked',
      async () => running.counts.parked,
      (count) => count > 0,
      { timeoutMs: 10_000 },
    );
    assert.equal(parked, [{ id: failing, about: 'broken', reason: 'broken', deliveries: 3 }]);
    assert.equal(
      of(failing).map((delivery) => delivery.deliveries),
      [1, 2, 3],
    );
    assert.equal(
      of(fine).map((delivery) => delivery.deliveries),
      [1],
    );
    assert.is(retries.length, 2, 'backed off twice, parked at the third');
    assert.ok(
      retries.every((ms) => ms >= 20 && ms <= 80),
      `backoffs ${retries}`,
    );
    assert.equal([running.counts.failed, running.counts.parked, running.counts.claimed], [3, 1, 0]);
    assert.is(await pending(ctx), 0);
  },
);

worker('an entry failing while Redis is away is never parked; one whose park fails stays pending', async (ctx) => {
  let parks = 0;
  const { worker: running, of } = start(ctx, 'one', {
    maxDeliveries: 1,
    park: async () => {
      parks++;
      throw new Error('cannot park now');
    },
  });
  const away = await add(ctx, 'Connection is closed.');
  const unparkable = await add(ctx, 'broken');
  await waitFor(
    'both entries to be delivered 3 times',
    async () => [of(away).length, of(unparkable).length],
    (counts) => counts.every((count) => count >= 3),
    { timeoutMs: 10_000 },
  );
  await running.stop();
  assert.is(parks, of(unparkable).length, 'a park tried at each delivery of the one entry, none of the other');
  assert.is(running.counts.parked, 0);
  assert.is(running.counts.failed, of(away).length + of(unparkable).length);
  assert.is(await pending(ctx), 2);
});

worker('an entry another consumer left idle for claimIdleMs is taken over with its delivery counted', async (ctx) => {
  const id = await add(ctx);
  await ctx.redis.xgroup('CREATE', ctx.stream, GROUP, '0', 'MKSTREAM');
  await ctx.redis.xreadgroup('GROUP', GROUP, 'dead', 'COUNT', 10, 'STREAMS', ctx.stream, '>');
  const started = performance.now();
  const { worker: survivor, of } = start(ctx, 'survivor');
  await waitFor(
    'the entry to be taken over',
    async () => of(id).length,
    (count) => count > 0,
    { timeoutMs: 10_000 },
  );
  assert.ok(performance.now() - started >= 300, 'not before it was idle long enough');
  assert.equal(
    of(id).map((delivery) => delivery.deliveries),
    [2],
  );
  assert.is(survivor.counts.claimed, 1);
  await untilNonePending(ctx, 'the entry to be acknowledged');
});

/**
 * A worker whose entries with `fail` = 'hold' are handled only once `release()` is called, and with
 * 'fail-then-hold' fail at their first delivery and are held at the next; at most `concurrent` entries
 * were in its hands at once. Released when the test ends, whatever happens: stop waits for handlings.
 */
function startHolding(ctx: Context, options: Options = {}) {
  let release = () => {};
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  const seen: Delivery[] = [];
  let running = 0;
  let concurrent = 0;
  ctx.workers.unshift({
    counts: { claimed: 0, failed: 0, parked: 0 },
    reserve: () => undefined,
    stop: async () => release(),
  });
  const started = start(ctx, 'one', {
    async handle(delivered) {
      seen.push(...delivered);
      running += delivered.length;
      concurrent = Math.max(concurrent, running);
      try {
        const done: string[] = [];
        const failed = [];
        for (const delivery of delivered) {
          const fail = delivery.fields?.[1] ?? 'no';
          const holds = fail === 'hold' || (fail === 'fail-then-hold' && delivery.deliveries > 1);
          if (holds) await released;
          if (fail === 'no' || holds) done.push(delivery.id);
          else failed.push({ delivery, error: new Error(fail), about: fail });
        }
        return { done, failed };
      } finally {
        running -= delivered.length;
      }
    },
    ...options,
  });
  const of = (id: string) => seen.filter((delivery) => delivery.id === id);
  return {
    ...started,
    release,
    of,
    /** Waits until `id` has been handed over `times` times. */
    handedOver: (id: string, times: number, what: string) =>
      waitFor(
        what,
        async () => of(id).length,
        (count) => count === times,
      ),
    get concurrent() {
      return concurrent;
    },
  };
}

const pendingIds = async (ctx: Context) =>
  ((await ctx.redis.xpending(ctx.stream, GROUP, '-', '+', 100)) as Array<[string]>).map(([id]) => id);

worker(
  'new entries are handled while an earlier one still is, which is not handed over again meanwhile',
  async (ctx) => {
    const { of, release, handedOver } = startHolding(ctx);
    const held = await add(ctx, 'hold');
    await handedOver(held, 1, 'the held entry to be delivered');
    const fine = await add(ctx);
    const failing = await add(ctx, 'broken');
    // The failing entry comes back through the pending list: a look at it while the held one is pending.
    await waitFor(
      'the entries after the held one to be handled, the failing one twice',
      async () => [of(fine).length, of(failing).length],
      ([fines, failings]) => fines === 1 && (failings ?? 0) >= 2,
      { timeoutMs: 10_000 },
    );
    const stillPending = await pendingIds(ctx);
    assert.ok(stillPending.includes(held), 'the held entry is not acknowledged before it is done');
    assert.ok(!stillPending.includes(fine), 'the entry after it is acknowledged');
    assert.is(of(held).length, 1, 'the held entry is not handed over again while it is handled');
    // Delivered again through '>' (the group's position moved back, as a failover's data loss does):
    // left to the handling under way.
    await ctx.redis.xgroup('SETID', ctx.stream, GROUP, '0');
    const after = await add(ctx);
    await handedOver(after, 1, 'the entry after the reset to be handled');
    assert.is(of(held).length, 1, 'not handed over again when delivered again');
    release();
    await waitFor(
      'the held entry to be acknowledged',
      () => pendingIds(ctx),
      (ids) => !ids.includes(held),
    );
    assert.is(of(held).length, 1);
  },
);

worker('an entry handed over again from the pending list does not hold back new entries', async (ctx) => {
  const { release, handedOver } = startHolding(ctx);
  const retried = await add(ctx, 'fail-then-hold');
  await handedOver(retried, 2, 'the entry to be held at its second delivery');
  const fine = await add(ctx);
  await handedOver(fine, 1, 'the new entry to be handled meanwhile');
  release();
  await waitFor(
    'everything acknowledged',
    () => pendingIds(ctx),
    (ids) => ids.length === 0,
  );
});

worker('entries taken over from the pending list count against the batch', async (ctx) => {
  // Three entries a dead consumer holds; this one may hold two at once.
  const held = [await add(ctx, 'hold'), await add(ctx, 'hold'), await add(ctx, 'hold')];
  await ctx.redis.xgroup('CREATE', ctx.stream, GROUP, '0', 'MKSTREAM');
  await ctx.redis.xreadgroup('GROUP', GROUP, 'dead', 'COUNT', 10, 'STREAMS', ctx.stream, '>');
  const holding = startHolding(ctx, { batch: 2 });
  const { of, release } = holding;
  await waitFor(
    'two to be taken over',
    async () => held.map((id) => of(id).length),
    (counts) => sum(counts) === 2,
    {
      timeoutMs: 10_000,
    },
  );
  // The third was due with them (the dead consumer read all three at once). What is checked is that
  // nothing happens: it stays with the dead consumer over three looks at the list (one every
  // claimIdleMs / 4) while two are in hand. A window, as no event marks a look that did nothing.
  await sleep(300);
  const leftWithTheDead = (await ctx.redis.xpending(ctx.stream, GROUP, '-', '+', 10, 'dead')) as unknown[];
  assert.is(leftWithTheDead.length, 1);
  assert.equal(
    held.map((id) => of(id).length),
    [1, 1, 0],
  );
  assert.is(holding.concurrent, 2);
  release();
  await waitFor(
    'everything acknowledged',
    () => pendingIds(ctx),
    (ids) => ids.length === 0,
    { timeoutMs: 10_000 },
  );
  assert.equal(
    held.map((id) => of(id).length),
    [1, 1, 1],
  );
  assert.is(holding.concurrent, 2, 'never more than the batch at once');
});

const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);

worker('room reserved for an entry another command delivers: within the batch, handled as a read one', async (ctx) => {
  await ctx.redis.xgroup('CREATE', ctx.stream, GROUP, '0', 'MKSTREAM');
  const holding = startHolding(ctx, { batch: 2 });
  const first = holding.worker.reserve();
  const second = holding.worker.reserve();
  assert.ok(first && second, 'room for two');
  assert.is(holding.worker.reserve(), undefined, 'the batch is promised');
  second.release();
  second.release();
  const third = holding.worker.reserve();
  assert.ok(third, 'room given back, once');
  assert.is(holding.worker.reserve(), undefined);
  third.release();

  const delivered = await appendDelivered(ctx, 'one', 'hold');
  const { id } = delivered;
  first.take(delivered);
  await holding.handedOver(id, 1, 'the delivered entry to be handled');
  // One handled and none promised: room for one more, not two.
  const fourth = holding.worker.reserve();
  assert.ok(fourth);
  assert.is(holding.worker.reserve(), undefined);
  fourth.release();
  holding.release();
  await waitFor(
    'the entry acknowledged',
    () => pendingIds(ctx),
    (ids) => ids.length === 0,
  );
  assert.is(holding.of(id).length, 1, 'handed over once: no read brought it again');
  await holding.worker.stop();
  assert.is(holding.worker.reserve(), undefined, 'no room in a stopped worker');
});

worker(
  'the pending list leaves an entry delivered for room reserved to its take, and to a pass once given back',
  async (ctx) => {
    await ctx.redis.xgroup('CREATE', ctx.stream, GROUP, '0', 'MKSTREAM');
    // Its pending list looked at every 500 ms (claimIdleMs / 4): two looks well within the 2 s an
    // entry of its own waits while room is reserved, on a slow machine too.
    const { worker: one, of } = start(ctx, 'one', { claimIdleMs: 2_000 });
    const passes = async () =>
      Number(/cmdstat_xpending:calls=(\d+)/.exec(await ctx.redis.info('commandstats'))?.[1] ?? 0);
    const deliver = () => appendDelivered(ctx, 'one');
    const deliveriesOf = async (id: string) =>
      ((await ctx.redis.xpending(ctx.stream, GROUP, id, id, 1)) as Array<[string, string, number, number]>)[0]?.[3];
    const twoPassesLater = async () => {
      const before = await passes();
      await waitFor('two looks at the pending list', passes, (n) => n >= before + 2);
    };

    const reservation = one.reserve();
    assert.ok(reservation);
    const delivered = await deliver();
    await twoPassesLater();
    assert.is(of(delivered.id).length, 0, 'left to its take');
    assert.is(await deliveriesOf(delivered.id), 1, 'not claimed');
    reservation.take(delivered);
    await untilNonePending(ctx);
    assert.equal(
      of(delivered.id).map(({ deliveries }) => deliveries),
      [1],
    );

    // Delivered, then the room given back (the script's answer lost): the pending list hands it over.
    const lost = one.reserve();
    assert.ok(lost);
    const unanswered = await deliver();
    lost.release();
    await untilNonePending(ctx);
    assert.equal(
      of(unanswered.id).map(({ deliveries }) => deliveries),
      [2],
    );
  },
);

worker(
  'an entry delivered to a worker that stops before its take is claimed by another, its delivery counted',
  async (ctx) => {
    await ctx.redis.xgroup('CREATE', ctx.stream, GROUP, '0', 'MKSTREAM');
    const one = start(ctx, 'one');
    const reservation = one.worker.reserve();
    assert.ok(reservation);
    const delivered = await appendDelivered(ctx, 'one');
    await one.worker.stop();
    reservation.take(delivered);
    assert.is(one.of(delivered.id).length, 0, 'not handled by a stopped worker');
    assert.is(await pending(ctx), 1, 'left pending under its name');
    // claimIdleMs (400 ms) later, the other worker's pending list takes it over.
    const two = start(ctx, 'two');
    await untilNonePending(ctx);
    assert.equal(
      two.of(delivered.id).map(({ deliveries }) => deliveries),
      [2],
    );
    assert.is(two.worker.counts.claimed, 1);
  },
);

worker('room is reserved only below reserveBelow, while reads may still fill the batch', async (ctx) => {
  await ctx.redis.xgroup('CREATE', ctx.stream, GROUP, '0', 'MKSTREAM');
  const holding = startHolding(ctx, { batch: 3, reserveBelow: 1 });
  const held = await add(ctx, 'hold');
  await holding.handedOver(held, 1, 'a read entry to be held');
  assert.is(holding.worker.reserve(), undefined, 'one in hand: none below 1');
  const more = [await add(ctx, 'hold'), await add(ctx, 'hold')];
  for (const id of more) await holding.handedOver(id, 1, 'reads to fill the batch');
  holding.release();
  await waitFor(
    'everything acknowledged',
    () => pendingIds(ctx),
    (ids) => ids.length === 0,
  );
  const reservation = holding.worker.reserve();
  assert.ok(reservation, 'nothing in hand: room again');
  assert.is(holding.worker.reserve(), undefined);
  reservation.release();
});

worker('a batch that is not a whole number of at least 1, or a reserveBelow not whole, is refused at start', (ctx) => {
  const startWith = (options: Options) =>
    startConsumerWorker<string>({
      redis: ctx.redis,
      // Never used: the options are refused before anything is read.
      blockRedis: ctx.redis,
      log: silentLog,
      stream: ctx.stream,
      group: GROUP,
      consumer: 'one',
      claimIdleMs: 400,
      handle: async () => ({ done: [], failed: [] }),
      park: async () => true,
      ...options,
    });
  for (const batch of [0, 0.5, -1]) {
    assert.throws(() => startWith({ batch }), /batch must be a whole number of at least 1/);
  }
  for (const reserveBelow of [Number.NaN, -1, 1.5]) {
    assert.throws(() => startWith({ reserveBelow }), /reserveBelow must be a whole number/);
  }
});

worker.run();
