import { rmSync } from 'node:fs';
import {
  appendEvent,
  connectRedis,
  encodeEvent,
  type Projection,
  STREAM_START,
  startProjection,
  untilReady,
} from '@microbank/streams';
import { type RedisContext, readStream, recordingLog, redisSuite, uniquePrefix, waitFor } from '@microbank/testing';
import type { Redis } from 'ioredis';
import * as assert from 'uvu/assert';
import { accountEvents, accountRegistered } from './account-events.ts';
import { decodeAccountEntry } from './entry-fast-path.ts';
import { streamKey } from './stream-keys.ts';

type Context = RedisContext;

const projection = redisSuite('projection runner', {
  connect: (url) => connectRedis(url, 'test:commands', recordingLog().log),
});

const registered = (account: string) => accountRegistered({ account, url: `http://${account}`, instance: 'test' });

/** A projection that records every (id, account) it is given, in order, to see gaps and duplicates. */
function recordingProjection(
  ctx: Context,
  stream: string,
  options: { batchSize?: number; blockMs?: number; lingerMs?: number } = {},
) {
  const seen: Array<[string, string]> = [];
  const { log, lines } = recordingLog();
  const running = startProjection({
    name: 'test',
    streams: [stream],
    decode: (_stream, fields) => decodeAccountEntry(fields),
    redis: ctx.redis,
    tailRedis: connectRedis(ctx.redisServer.url, 'test:tail', log),
    log,
    apply: (event, id) => seen.push([id, event.data.account]),
    ...options,
  });
  return { projection: running, seen, lines };
}

async function allIds(redis: Redis, stream: string): Promise<string[]> {
  return (await readStream(redis, stream)).map(([id]) => id);
}

const cleanup: Projection[] = [];

projection.after.each(async () => {
  for (const running of cleanup.splice(0)) await running.stop();
});

projection('an empty stream is caught up at once', async (ctx) => {
  const { projection: running, seen } = recordingProjection(ctx, streamKey('accounts', uniquePrefix()));
  cleanup.push(running);
  await running.whenReady();
  assert.is(running.status, 'live');
  assert.is(running.position, STREAM_START);
  assert.equal(seen, []);
});

projection('replays the whole history in batches, then turns ready at the catch-up target', async (ctx) => {
  const stream = streamKey('accounts', uniquePrefix());
  const pipeline = ctx.redis.pipeline();
  for (let i = 0; i < 2_345; i++) pipeline.xadd(stream, '*', ...encodeEvent(accountEvents, registered(`account-${i}`)));
  await pipeline.exec();
  const ids = await allIds(ctx.redis, stream);

  const { projection: running, seen } = recordingProjection(ctx, stream, { batchSize: 100 });
  cleanup.push(running);
  assert.is(running.ready, false);
  await running.whenReady();
  assert.is(running.catchUpTarget, ids.at(-1));
  assert.is(running.position, ids.at(-1));
  assert.equal(
    seen.map(([id]) => id),
    ids,
  );
  assert.is(running.applied, 2_345);
  assert.is(running.skipped, 0);
});

projection('tails new entries after catching up, and waitForPosition sees them', async (ctx) => {
  const stream = streamKey('accounts', uniquePrefix());
  await appendEvent(ctx.redis, stream, accountEvents, registered('john-account'));
  const { projection: running, seen } = recordingProjection(ctx, stream);
  cleanup.push(running);
  await running.whenReady();
  const id = await appendEvent(ctx.redis, stream, accountEvents, registered('mary-account'));
  assert.ok(await running.waitForPosition(id, 5_000), 'position reached');
  assert.equal(
    seen.map(([, account]) => account),
    ['john-account', 'mary-account'],
  );
});

projection('waitForPosition answers false when the position is not reached in time', async (ctx) => {
  const { projection: running } = recordingProjection(ctx, streamKey('accounts', uniquePrefix()));
  cleanup.push(running);
  await running.whenReady();
  assert.is(await running.waitForPosition('99999999999999-0', 50), false);
});

projection('with lingerMs, entries that come during the wait after a read are read together after it', async (ctx) => {
  const stream = streamKey('accounts', uniquePrefix());
  const { projection: running, seen } = recordingProjection(ctx, stream, { lingerMs: 2_000 });
  cleanup.push(running);
  await running.whenReady();
  const first = await appendEvent(ctx.redis, stream, accountEvents, registered('john-account'));
  // A quiet stream's entry is read at once: the wait only follows a read that found something.
  assert.ok(await running.waitForPosition(first, 5_000), 'the first entry applied');
  await appendEvent(ctx.redis, stream, accountEvents, registered('mary-account'));
  const last = await appendEvent(ctx.redis, stream, accountEvents, registered('ann-account'));
  // Still lingering after the first read: the two wait in Redis, then come in one read.
  assert.is(running.position, first);
  await waitFor(
    'the batch',
    () => running.position,
    (position) => position === last,
    { timeoutMs: 5_000 },
  );
  assert.equal(
    seen.map(([, account]) => account),
    ['john-account', 'mary-account', 'ann-account'],
  );
});

projection('waitForPosition ends the linger: a position asked for is read at once', async (ctx) => {
  const stream = streamKey('accounts', uniquePrefix());
  const { projection: running } = recordingProjection(ctx, stream, { lingerMs: 60_000 });
  cleanup.push(running);
  await running.whenReady();
  const first = await appendEvent(ctx.redis, stream, accountEvents, registered('john-account'));
  assert.ok(await running.waitForPosition(first, 5_000), 'the first entry applied');
  // The projection now lingers for a minute; a reader waiting for the next entry cuts it short.
  const next = await appendEvent(ctx.redis, stream, accountEvents, registered('mary-account'));
  assert.ok(await running.waitForPosition(next, 5_000), 'the entry asked for is read within the wait');
});

projection('no linger while a read waits for a position the last read did not reach', async (ctx) => {
  const stream = streamKey('accounts', uniquePrefix());
  const { projection: running } = recordingProjection(ctx, stream, { lingerMs: 60_000 });
  cleanup.push(running);
  await running.whenReady();
  const add = (id: string, account: string) =>
    ctx.redis.xadd(stream, id, ...encodeEvent(accountEvents, registered(account)));
  await add('1-1', 'john-account');
  assert.ok(await running.waitForPosition('1-1', 5_000), 'the first entry applied');
  // Asked for during the linger (which it ends), the position is beyond the next read's entry:
  // after that read the projection must read again at once, not linger with a read waiting.
  const asked = running.waitForPosition('1-3', 5_000);
  await add('1-2', 'mary-account');
  await waitFor(
    'the entry before the one asked for',
    () => running.position,
    (position) => position === '1-2',
    {
      timeoutMs: 5_000,
    },
  );
  await add('1-3', 'ann-account');
  assert.ok(await asked, 'the position asked for is read without waiting out the linger');
});

projection('poison entries are skipped, logged once each, counted, and what follows is applied', async (ctx) => {
  const stream = streamKey('accounts', uniquePrefix());
  await appendEvent(ctx.redis, stream, accountEvents, registered('john-account'));
  const { projection: running, seen, lines } = recordingProjection(ctx, stream);
  cleanup.push(running);
  await running.whenReady();
  const poison = [
    ['hello', 'world'],
    ['type', 'AccountRegistered', 'v', '1', 'data', '{oops'],
    ['type', 'AccountClosed', 'v', '1', 'data', '{}'],
    ['type', 'AccountRegistered', 'v', '9', 'data', '{}'],
    ['type', 'AccountRegistered', 'v', '1', 'data', JSON.stringify({ account: 7 })],
    ['type', 'AccountRegistered', 'v', '1', 'data', 'x'.repeat(1024 * 1024)],
  ];
  for (const fields of poison) await ctx.redis.xadd(stream, '*', ...fields);
  const last = await appendEvent(ctx.redis, stream, accountEvents, registered('mary-account'));
  assert.ok(await running.waitForPosition(last, 5_000));
  assert.equal(
    seen.map(([, account]) => account),
    ['john-account', 'mary-account'],
  );
  assert.is(running.skipped, poison.length);
  const skippedLines = lines.filter((line) => line.msg === 'skipped stream entry');
  assert.is(skippedLines.length, poison.length);
  assert.ok(
    skippedLines.every((line) => JSON.stringify(line.obj).length < 500),
    'log lines stay short',
  );
});

projection('the tail resumes after Redis is killed and restarted: no gap, no duplicate', async (ctx) => {
  const stream = streamKey('accounts', uniquePrefix());
  await appendEvent(ctx.redis, stream, accountEvents, registered('before-kill'));
  const { projection: running, seen, lines } = recordingProjection(ctx, stream, { blockMs: 1_000 });
  cleanup.push(running);
  await running.whenReady();

  await ctx.redisServer.kill();
  await ctx.redisServer.restart();
  await untilReady(ctx.redis);
  const appended: string[] = [];
  for (let i = 0; i < 5; i++)
    appended.push(await appendEvent(ctx.redis, stream, accountEvents, registered(`after-restart-${i}`)));

  await waitFor(
    'the tail to apply what was appended after the restart',
    () => running.position,
    (p) => p === appended.at(-1),
    {
      timeoutMs: 10_000,
    },
  );
  assert.equal(
    seen.map(([id]) => id),
    await allIds(ctx.redis, stream),
  );
  assert.ok(
    lines.some((line) => line.msg === 'tail resumed'),
    'the resume was logged',
  );
  assert.is(running.status, 'live');
});

projection('a stream that went backwards (Redis restarted on an empty volume) is reported, not served', async (ctx) => {
  const stream = streamKey('accounts', uniquePrefix());
  await appendEvent(ctx.redis, stream, accountEvents, registered('john-account'));
  const { projection: running, lines } = recordingProjection(ctx, stream, { blockMs: 1_000 });
  cleanup.push(running);
  await running.whenReady();

  await ctx.redisServer.kill();
  rmSync(ctx.redisServer.dataDir, { recursive: true, force: true });
  await ctx.redisServer.restart();
  await waitFor(
    'the projection to notice the lost stream',
    () => running.status,
    (status) => status === 'diverged',
  );
  assert.is(running.ready, false);
  assert.ok(lines.some((line) => line.level === 'error' && /Redis lost data/.test(line.msg)));
});

projection('a stream followed while the tail blocks is read at once, not after the block ends', async (ctx) => {
  const first = streamKey('accounts', uniquePrefix());
  const second = streamKey('accounts', uniquePrefix());
  const id = await appendEvent(ctx.redis, second, accountEvents, registered('late-account'));
  const { projection: running, seen } = recordingProjection(ctx, first, { blockMs: 20_000 });
  cleanup.push(running);
  await running.whenReady();
  running.follow(second);
  // Within the block (20 s) only if the follow woke the blocked read (CLIENT UNBLOCK).
  assert.ok(await running.waitForPosition(id, 10_000, second), 'read without waiting out the block');
  assert.equal(seen, [[id, 'late-account']]);
});

projection.run();
