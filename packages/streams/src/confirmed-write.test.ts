/**
 * Confirmed writes on a real primary with a real replica: a write is answered once the replica
 * holds it; with the replica frozen, the write is made and answered as Unconfirmed (with its
 * reply), never as a success, and so is a read of a write no replica holds yet; with no
 * confirmation asked (a single Redis), no WAIT is sent at all.
 */
import { type ReplicatedRedis, startReplicatedRedis, testSuite, uniquePrefix } from '@microbank/testing';
import * as assert from 'uvu/assert';
import * as z from 'zod';
import { confirmedEntry, confirmedWrite, confirmRead, Unconfirmed } from './confirmed-write.ts';
import { catalogAtV1 } from './event-catalog.ts';
import { appendEvent } from './event-store.ts';
import { confirmKey } from './keys.ts';
import { silentLog } from './log.ts';
import { startNotesProjection } from './notes-projection.ts';
import { closeRedis, connectRedis, isCluster, type RedisClient, untilReady } from './redis-connection.ts';

interface Context {
  redis: ReplicatedRedis;
  open: RedisClient[];
}
const confirmed = testSuite<Context>('confirmed writes', { open: [] } as unknown as Context);

confirmed.before(async (ctx) => {
  ctx.redis = await startReplicatedRedis();
});
confirmed.after.each(async (ctx) => {
  ctx.redis.thaw();
  await Promise.all(ctx.open.splice(0).map(closeRedis));
});
confirmed.after(async (ctx) => {
  await ctx.redis?.dispose();
});

type Noted = { type: 'Noted'; data: { note: string } };

const connect = async (ctx: Context, replicas: number) => {
  const redis = connectRedis(
    { urls: [ctx.redis.primary.url], cluster: false, confirm: { replicas, timeoutMs: 300 } },
    'test:confirmed',
    silentLog,
  );
  ctx.open.push(redis);
  await untilReady(redis);
  return redis;
};

confirmed('a write its replica holds is answered with its reply', async (ctx) => {
  const redis = await connect(ctx, 1);
  const key = `${uniquePrefix()}:counter`;
  const reply = await confirmedWrite<number>(redis, key, (pipeline) => pipeline.incr(key));
  assert.is(reply, 1);
  const replica = connectRedis(ctx.redis.replica.url, 'test:replica', silentLog);
  ctx.open.push(replica);
  await untilReady(replica);
  assert.is(await replica.get(key), '1', 'the replica holds it when the write is answered');
});

confirmed(
  'a write no replica confirms is Unconfirmed, with what it answered, and is made on the primary',
  async (ctx) => {
    const redis = await connect(ctx, 1);
    const key = `${uniquePrefix()}:counter`;
    ctx.redis.freeze();
    let thrown: unknown;
    try {
      await confirmedWrite<number>(redis, key, (pipeline) => pipeline.incr(key));
    } catch (error) {
      thrown = error;
    }
    assert.instance(thrown, Unconfirmed);
    assert.is((thrown as Unconfirmed).reply, 1);
    assert.is((thrown as Unconfirmed).confirmedBy, 0);
    assert.is(await redis.get(key), '1');
  },
);

confirmed('an appended event is Unconfirmed while the replica is frozen, and confirmed after', async (ctx) => {
  const redis = await connect(ctx, 1);
  const catalog = catalogAtV1<Noted>({ kind: 'notes', maxEntryBytes: 1024 }, { Noted: z.object({ note: z.string() }) });
  const stream = `${uniquePrefix()}:notes`;
  ctx.redis.freeze();
  let thrown: unknown;
  try {
    await appendEvent(redis, stream, catalog, { type: 'Noted', data: { note: 'first' } });
  } catch (error) {
    thrown = error;
  }
  assert.instance(thrown, Unconfirmed);
  ctx.redis.thaw();
  const id = await appendEvent(redis, stream, catalog, { type: 'Noted', data: { note: 'again' } });
  assert.match(id, /^\d+-\d+$/);
});

confirmed(
  'a command that writes nothing is confirmed only once the replicas hold what the primary held',
  async (ctx) => {
    // What a repeat relies on (confirmed-write.ts): the first write, made by another connection and
    // not yet on the replica, is covered by the WAIT behind a read (and the slot's mark).
    const writer = await connect(ctx, 0);
    const redis = await connect(ctx, 1);
    const key = `${uniquePrefix()}:step`;
    assert.is(await confirmedWrite(redis, key, (pipeline) => pipeline.set(`${key}:before`, 'x')), 'OK');
    ctx.redis.freeze();
    await writer.set(key, 'made once');
    let thrown: unknown;
    try {
      await confirmedWrite(redis, key, (pipeline) => pipeline.get(key));
    } catch (error) {
      thrown = error;
    }
    assert.instance(thrown, Unconfirmed, 'a read of a write no replica holds is not confirmed');
    assert.is((thrown as Unconfirmed).reply, 'made once');
    ctx.redis.thaw();
    assert.is(await confirmedWrite(redis, key, (pipeline) => pipeline.get(key)), 'made once');
  },
);

confirmed(
  'the slot`s mark is written before every WAIT, so that WAIT covers all the primary holds on any Redis',
  async (ctx) => {
    // Redis 7.2 on moves a connection's WAIT offset only after a command that replicated something:
    // a read alone would leave it where this connection's last write left it. The mark is such a write.
    const redis = await connect(ctx, 1);
    const key = `${uniquePrefix()}:step`;
    await confirmedWrite(redis, key, (pipeline) => pipeline.get(key));
    const replica = connectRedis(ctx.redis.replica.url, 'test:replica', silentLog);
    ctx.open.push(replica);
    await untilReady(replica);
    assert.is(await replica.get(confirmKey(key)), '1', 'the mark reached the replica with the WAIT');
    assert.is(confirmKey(key), `{${key}}:confirm`);
    assert.is(confirmKey('microbank:ledger:{john-account}'), '{john-account}:confirm');
  },
);

confirmed(
  'writes of one slot sent together share a WAIT, and each gets its own reply (a group commit)',
  async (ctx) => {
    const redis = await connect(ctx, 1);
    const key = `${uniquePrefix()}:counter`;
    const before = await waitCalls(redis);
    const replies = await Promise.all(
      Array.from({ length: 50 }, () => confirmedWrite<number>(redis, key, (pipeline) => pipeline.incr(key))),
    );
    const waits = (await waitCalls(redis)) - before;
    assert.equal(
      [...replies].sort((a, b) => a - b),
      Array.from({ length: 50 }, (_, i) => i + 1),
      'each write its own reply',
    );
    assert.ok(waits >= 1 && waits <= 3, `50 writes, ${waits} WAITs`);
    // One write that cannot be queued fails alone.
    const [bad, good] = await Promise.allSettled([
      confirmedWrite(redis, key, () => {
        throw new Error('no such command');
      }),
      confirmedWrite<number>(redis, key, (pipeline) => pipeline.incr(key)),
    ]);
    assert.is(bad?.status, 'rejected');
    assert.equal(good, { status: 'fulfilled', value: 51 });
  },
);

confirmed('no confirmation asked: no WAIT is sent, a frozen replica changes nothing', async (ctx) => {
  const redis = await connect(ctx, 0);
  const key = `${uniquePrefix()}:counter`;
  ctx.redis.freeze();
  const before = await waitCalls(redis);
  assert.is(await confirmedWrite<number>(redis, key, (pipeline) => pipeline.incr(key)), 1);
  assert.is(await waitCalls(redis), before, 'WAIT was not called');
});

confirmed('no confirmation asked: the writes of one turn go in one pipeline, each with its own reply', async (ctx) => {
  const redis = await connect(ctx, 0);
  const key = `${uniquePrefix()}:counter`;
  if (isCluster(redis)) throw new Error('a single Redis was asked for');
  const socket = redis.stream;
  const write = socket.write;
  let writes = 0;
  // Counted as they go to the real socket, and sent on.
  socket.write = ((...args: Parameters<typeof write>) => {
    writes++;
    return write.apply(socket, args);
  }) as typeof write;
  try {
    const [bad, empty, ...replies] = await Promise.allSettled([
      confirmedWrite(redis, key, () => {
        throw new Error('no such command');
      }),
      confirmedWrite(redis, key, () => {}),
      ...Array.from({ length: 50 }, () => confirmedWrite<number>(redis, key, (pipeline) => pipeline.incr(key))),
      confirmedWrite(redis, key, (pipeline) => pipeline.lpush(key, 'not a list')),
    ]);
    assert.is(writes, 1, 'one write to the socket');
    assert.is(bad?.status, 'rejected', 'a write that cannot be queued fails alone');
    assert.match(
      String(empty?.status === 'rejected' && empty.reason),
      /given no command/,
      'and so does one that queues nothing',
    );
    const failed = replies.pop();
    assert.match(
      String(failed?.status === 'rejected' && failed.reason),
      /WRONGTYPE/,
      'a command refused fails its own write',
    );
    assert.equal(
      replies.map((reply) => reply.status === 'fulfilled' && reply.value),
      Array.from({ length: 50 }, (_, i) => i + 1),
      'each write its own reply, in the order asked',
    );
    assert.is(await confirmedWrite<number>(redis, key, (pipeline) => pipeline.incr(key)), 51, 'and the next turn');
  } finally {
    socket.write = write;
  }
});

/** How often the primary ran WAIT (its command statistics). */
async function waitCalls(redis: RedisClient): Promise<number> {
  const stats = await redis.info('commandstats');
  return Number(/cmdstat_wait:calls=(\d+)/.exec(stats)?.[1] ?? 0);
}

confirmed(
  'a read is confirmed only once its replica holds it, and refused once its last entry is gone',
  async (ctx) => {
    const writer = await connect(ctx, 0);
    const redis = await connect(ctx, 1);
    const stream = `${uniquePrefix()}:stream`;
    ctx.redis.freeze();
    const id = (await writer.xadd(stream, '*', 'n', '1')) as string;
    const read = [[stream, [[Buffer.from(id), [Buffer.from('n'), Buffer.from('1')]]]]] as const;
    let thrown: unknown;
    await confirmRead(redis, read as never).catch((error: unknown) => {
      thrown = error;
    });
    assert.instance(thrown, Unconfirmed, 'an entry no replica holds is not confirmed');
    ctx.redis.thaw();
    await confirmRead(redis, read as never);
    assert.equal(await confirmedEntry(redis, stream, id), [id, ['n', '1']]);
    // As a failover to a replica that never had it leaves the stream: the entry read is gone.
    await writer.xdel(stream, id);
    await writer.xadd(stream, '*', 'n', '2');
    thrown = undefined;
    await confirmRead(redis, read as never).catch((error: unknown) => {
      thrown = error;
    });
    assert.match(String(thrown), /no longer holds .*lost in a failover/);
  },
);

confirmed('a projection applies no entry its replica does not hold, and applies it once held', async (ctx) => {
  const writer = await connect(ctx, 0);
  const redis = await connect(ctx, 1);
  const tailRedis = await connect(ctx, 1);
  const stream = `${uniquePrefix()}:stream`;
  const { projection, applied } = startNotesProjection(redis, tailRedis, [stream]);
  try {
    await writer.xadd(stream, '*', 'n', 'held');
    await projection.whenReady();
    assert.ok(await projection.waitForPosition((await writer.xadd(stream, '*', 'n', 'held too')) as string, 5_000));
    ctx.redis.freeze();
    const id = await writer.xadd(stream, '*', 'n', 'not held');
    assert.not.ok(await projection.waitForPosition(id as string, 1_500), 'not applied while no replica holds it');
    assert.equal(applied, ['held', 'held too']);
    ctx.redis.thaw();
    assert.ok(await projection.waitForPosition(id as string, 10_000), 'applied once its replica holds it');
    assert.equal(applied, ['held', 'held too', 'not held']);
  } finally {
    await projection.stop();
  }
});

confirmed.run();
