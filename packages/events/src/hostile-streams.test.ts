/**
 * A projection facing a Redis that lost its data, a stream replaced by another type, huge entries
 * and floods of garbage: it must notice, say why, stay bounded, and not drown its log.
 */
import { rmSync } from 'node:fs';
import {
  appendEvent,
  closeRedis,
  connectRedis,
  encodeEvent,
  incarnationKey,
  type Projection,
  type ProjectionOptions,
  SKIPS_LOGGED_PER_KIND,
  startProjection,
  untilReady,
} from '@microbank/streams';
import { type RedisContext, recordingLog, redisSuite, uniquePrefix, waitFor } from '@microbank/testing';
import type { Redis } from 'ioredis';
import * as assert from 'uvu/assert';
import { type AccountEvent, accountEvents, accountRegistered } from './account-events.ts';
import { applyAccountEvent, clearRegistry, createAccountsRegistry } from './accounts-registry.ts';
import { decodeAccountEntry } from './entry-fast-path.ts';
import { streamKey } from './stream-keys.ts';

type Context = RedisContext;

const hostile = redisSuite('projection against hostile streams', {
  connect: (url) => connectRedis(url, 'test:commands', recordingLog().log),
  perTest: true,
});
const opened: Projection[] = [];

hostile.after.each(async () => {
  for (const projection of opened.splice(0)) await projection.stop();
});

const registered = (account: string) => accountRegistered({ account, url: `http://${account}`, instance: 'test' });

function openRegistry(ctx: Context, stream: string, options: Partial<ProjectionOptions<AccountEvent>> = {}) {
  const { log, lines } = recordingLog();
  const registry = createAccountsRegistry();
  const projection = startProjection<AccountEvent>({
    name: 'test',
    streams: [stream],
    redis: ctx.redis,
    tailRedis: connectRedis(ctx.redisServer.url, 'test:tail', log),
    log,
    decode: (_stream, fields) => decodeAccountEntry(fields),
    apply: (event, id) => applyAccountEvent(registry, event, id),
    blockMs: 200,
    continuityCheckMs: 200,
    failedRetryMs: 200,
    ...options,
  });
  opened.push(projection);
  return { projection, registry, lines };
}

hostile(
  'data lost and written again before the projection looks (FLUSHALL, then one append): diverged',
  async (ctx) => {
    const stream = streamKey('accounts', uniquePrefix());
    await appendEvent(ctx.redis, stream, accountEvents, registered('john-account'));
    await appendEvent(ctx.redis, stream, accountEvents, registered('mary-account'));
    const { projection } = openRegistry(ctx, stream);
    await projection.whenReady();
    // No restart, no reconnect: the stream's end is past the position again at once.
    await ctx.redis
      .pipeline()
      .flushall()
      .xadd(stream, '*', ...encodeEvent(accountEvents, registered('eve-account')))
      .exec();
    await waitFor(
      'the projection to diverge',
      () => projection.status,
      (status) => status === 'diverged',
    );
    assert.match(projection.reason ?? '', /created anew/);
    assert.is(projection.ready, false);
  },
);

hostile('Redis restarted on an empty volume and appended to at once: diverged', async (ctx) => {
  const stream = streamKey('accounts', uniquePrefix());
  await appendEvent(ctx.redis, stream, accountEvents, registered('john-account'));
  const { projection } = openRegistry(ctx, stream);
  await projection.whenReady();
  await ctx.redisServer.kill();
  rmSync(ctx.redisServer.dataDir, { recursive: true, force: true });
  await ctx.redisServer.restart();
  const writer = connectRedis(ctx.redisServer.url, 'test:writer', recordingLog().log);
  await untilReady(writer);
  for (let i = 0; i < 3; i++) await appendEvent(writer, stream, accountEvents, registered(`new-${i}`));
  await closeRedis(writer);
  await waitFor(
    'the projection to diverge',
    () => projection.status,
    (status) => status === 'diverged',
  );
});

hostile(
  'data lost and written again while it tails, no check due: the new entry is not applied on the old state; rebuilt from the stream',
  async (ctx) => {
    const stream = streamKey('accounts', uniquePrefix());
    await appendEvent(ctx.redis, stream, accountEvents, registered('john-account'));
    let mixed = false;
    const registry = createAccountsRegistry();
    const { projection, lines } = openRegistry(ctx, stream, {
      // Only what comes with each read can tell: the periodic check is a minute away.
      continuityCheckMs: 60_000,
      apply: (event, id) => {
        applyAccountEvent(registry, event, id);
        if (registry.accounts.has('john-account') && registry.accounts.has('eve-account')) mixed = true;
      },
      reset: () => clearRegistry(registry),
    });
    await projection.whenReady();
    // Between two tail reads or during one: no reconnect, and the stream is past the position at once.
    await ctx.redis
      .multi()
      .flushall()
      .xadd(stream, '*', ...encodeEvent(accountEvents, registered('eve-account')))
      .exec();
    await waitFor(
      'the registry rebuilt from the stream as it is now',
      () => projection.ready && [...registry.accounts.keys()].join(),
      (accounts) => accounts === 'eve-account',
      { timeoutMs: 20_000 },
    );
    assert.is(mixed, false, 'eve-account was applied on top of the lost john-account');
    assert.is(projection.divergences, 1);
    assert.ok(lines.some((line) => line.level === 'error' && /rebuilding the state/.test(line.msg)));
    // The stream is tailed on from there, under its new marker.
    assert.ok(await ctx.redis.get(incarnationKey(stream)));
    const next = await appendEvent(ctx.redis, stream, accountEvents, registered('mary-account'));
    assert.ok(await projection.waitForPosition(next, 10_000));
    assert.equal([...registry.accounts.keys()], ['eve-account', 'mary-account']);
  },
);

hostile(
  'entries trimmed or deleted on purpose are not a loss; a stream started empty adopts its marker',
  async (ctx) => {
    const stream = streamKey('accounts', uniquePrefix());
    const { projection, lines } = openRegistry(ctx, stream);
    await projection.whenReady();
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push(await appendEvent(ctx.redis, stream, accountEvents, registered(`a-${i}`)));
    await projection.waitForPosition(ids.at(-1) as string, 5_000);
    await ctx.redis.xdel(stream, ids.at(-1) as string);
    await ctx.redis.xtrim(stream, 'MAXLEN', 1);
    const later = await appendEvent(ctx.redis, stream, accountEvents, registered('later'));
    await projection.waitForPosition(later, 5_000);
    await ctx.redis.xtrim(stream, 'MAXLEN', 0);
    // Several continuity checks later, still live.
    const checksBefore = lines.length;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    assert.is(projection.status, 'live', JSON.stringify(lines.slice(checksBefore)));
  },
);

hostile(
  'a stream replaced by a string: not ready with WRONGTYPE, counted, tried now and then; back when fixed',
  async (ctx) => {
    const stream = streamKey('accounts', uniquePrefix());
    const id = await appendEvent(ctx.redis, stream, accountEvents, registered('john-account'));
    const { projection, lines } = openRegistry(ctx, stream);
    await projection.whenReady();
    // One transaction: between two separate commands the projection could see no stream at all,
    // which is a different fault (a stream that lost its entries: diverged).
    await ctx.redis.multi().rename(stream, `${stream}:aside`).set(stream, 'not a stream').exec();
    await waitFor(
      'the projection to fail',
      () => projection.status,
      (status) => status === 'failed',
    );
    assert.match(projection.reason ?? '', /WRONGTYPE/);
    assert.ok(projection.failures >= 1);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    // Tried again about every 200 ms, not in a tight loop, and each try is one line, not a flood.
    assert.ok(projection.failures <= 10, `failures: ${projection.failures}`);
    assert.ok(lines.filter((line) => line.level !== 'info').length <= 12, `${lines.length} lines`);
    // The operator puts the stream back: the projection carries on from where it was.
    await ctx.redis.multi().del(stream).rename(`${stream}:aside`, stream).exec();
    await waitFor(
      'the projection to be live again',
      () => projection.status,
      (status) => status === 'live',
    );
    assert.is(projection.position, id);
    const next = await appendEvent(ctx.redis, stream, accountEvents, registered('mary-account'));
    assert.ok(await projection.waitForPosition(next, 5_000));
  },
);

/** A JSON document nested `depth` deep, about `bytes` long: expensive to parse, cheap to judge by size. */
function nested(bytes: number): string {
  const depth = Math.floor(bytes / 2);
  return `${'['.repeat(depth)}${']'.repeat(depth)}`;
}

hostile('huge entries are judged by their size and skipped unparsed; what follows is applied', async (ctx) => {
  const stream = streamKey('accounts', uniquePrefix());
  await appendEvent(ctx.redis, stream, accountEvents, registered('before'));
  for (let i = 0; i < 5; i++) {
    await ctx.redis.xadd(stream, '*', 'type', 'AccountRegistered', 'v', '1', 'data', nested(10 * 1024 * 1024));
  }
  await appendEvent(ctx.redis, stream, accountEvents, registered('after'));
  const { projection, registry, lines } = openRegistry(ctx, stream);
  await projection.whenReady();
  assert.equal([...registry.accounts.keys()], ['before', 'after']);
  assert.is(projection.skipped, 5);
  const reasons = lines.filter((line) => line.msg.startsWith('skipped stream entry')).map((line) => line.obj.kind);
  assert.equal(reasons, ['too-large', 'too-large', 'too-large', 'too-large', 'too-large']);
});

hostile('100,000 garbage entries: every one counted, a few dozen log lines', async (ctx) => {
  const stream = streamKey('accounts', uniquePrefix());
  for (let chunk = 0; chunk < 10; chunk++) {
    const pipeline = ctx.redis.pipeline();
    for (let i = 0; i < 10_000; i++) pipeline.xadd(stream, '*', 'hello', 'world');
    await pipeline.exec();
  }
  const last = await appendEvent(ctx.redis, stream, accountEvents, registered('john-account'));
  const { projection, registry, lines } = openRegistry(ctx, stream);
  await projection.whenReady();
  assert.ok(await projection.waitForPosition(last, 5_000));
  assert.is(projection.skipped, 100_000);
  assert.ok(registry.accounts.has('john-account'));
  const skipLines = lines.filter((line) => line.msg.startsWith('skipped'));
  assert.is(skipLines.filter((line) => line.obj.id !== undefined).length, SKIPS_LOGGED_PER_KIND);
  assert.ok(skipLines.length < 100, `${skipLines.length} lines about skipped entries`);
  const counted = skipLines.reduce((sum, line) => sum + (typeof line.obj.count === 'number' ? line.obj.count : 1), 0);
  assert.is(counted, 100_000, 'the lines still add up to every skipped entry');
});

hostile(
  '20,000 garbage entries arriving while it tails, read a few at a time: a few log lines, every one counted',
  async (ctx) => {
    const stream = streamKey('accounts', uniquePrefix());
    const { projection, lines } = openRegistry(ctx, stream);
    await projection.whenReady();
    const readsBefore = await xreadCalls(ctx.redis);
    for (let chunk = 0; chunk < 200; chunk++) {
      const pipeline = ctx.redis.pipeline();
      for (let i = 0; i < 100; i++) pipeline.xadd(stream, '*', 'hello', 'world');
      await pipeline.exec();
    }
    const last = await appendEvent(ctx.redis, stream, accountEvents, registered('john-account'));
    assert.ok(await projection.waitForPosition(last, 60_000));
    const reads = (await xreadCalls(ctx.redis)) - readsBefore;
    assert.ok(reads >= 20, `the tail took the garbage in ${reads} reads, not a few large ones`);
    assert.is(projection.skipped, 20_000, 'the metric counts every one');
    const skipLines = () => lines.filter((line) => line.msg.startsWith('skipped'));
    assert.ok(skipLines().length <= 12, `${skipLines().length} lines about skipped entries in ${reads} reads`);
    await projection.stop();
    const counted = skipLines().reduce(
      (sum, line) => sum + (typeof line.obj.count === 'number' ? line.obj.count : 1),
      0,
    );
    assert.is(counted, 20_000, 'the lines, the summary written at stop included, add up to every skipped entry');
  },
);

/** How many XREADs the server has answered (the tail's reads). */
async function xreadCalls(redis: Redis): Promise<number> {
  const stats = await redis.info('commandstats');
  return Number(/cmdstat_xread:calls=(\d+)/.exec(stats)?.[1] ?? 0);
}

hostile.run();
