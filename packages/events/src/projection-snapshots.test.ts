import { createHash } from 'node:crypto';
import {
  appendEvent,
  compareStreamIds,
  connectRedis,
  decodeEntry,
  encodeEvent,
  incarnationKey,
  redisSnapshots,
  type StreamId,
  snapshotHmac,
  snapshotKey,
} from '@microbank/streams';
import { type RedisContext, readStream, recordingLog, redisSuite, uniquePrefix, waitFor } from '@microbank/testing';
import type { Redis } from 'ioredis';
import * as assert from 'uvu/assert';
import { accountEvents, accountRegistered } from './account-events.ts';
import { type AccountsProjection, startAccountsProjection } from './accounts-projection.ts';
import {
  type AccountsRegistry,
  applyAccountEvent,
  createAccountsRegistry,
  REGISTRY_SNAPSHOT_FORMAT,
  registrySnapshotState,
  restoreRegistry,
} from './accounts-registry.ts';
import { streamKey } from './stream-keys.ts';

/** The services' secret in these tests; a forger does not have it. */
const SECRET = 'a-test-secret-of-at-least-32-characters';
const sign = (positions: string, state: string) =>
  snapshotHmac(SECRET, String(REGISTRY_SNAPSHOT_FORMAT), positions, state);

type Context = RedisContext & { opened: AccountsProjection[] };

const snapshots = redisSuite<{ opened: AccountsProjection[] }>('projection snapshots', {
  connect: (url) => connectRedis(url, 'test:commands', recordingLog().log),
  extra: { opened: [] },
});

snapshots.after.each(async (ctx) => {
  for (const accounts of ctx.opened.splice(0)) await accounts.close();
});

const registered = (account: string, url = `http://${account}`) =>
  accountRegistered({ account, url, instance: 'test' });

/**
 * A history with what a registry must get right: restarts of the same accounts, a URL that
 * changes, and entries that do not decode. Returns every entry's ID, in order.
 */
async function writeHistory(redis: Redis, stream: string, entries: number, from = 0): Promise<StreamId[]> {
  const pipeline = redis.pipeline();
  for (let n = from; n < from + entries; n++) {
    if (n % 37 === 36) pipeline.xadd(stream, '*', 'typed', 'by hand');
    else
      pipeline.xadd(
        stream,
        '*',
        ...encodeEvent(accountEvents, registered(`account-${n % 7}`, `http://account-${n % 7}:${n % 3}`)),
      );
  }
  const replies = (await pipeline.exec()) ?? [];
  return replies.map(([, id]) => id as StreamId);
}

/** The registry a projection must reach: every entry up to `until` folded in, straight from the stream. */
async function foldedUpTo(redis: Redis, stream: string, until: StreamId): Promise<AccountsRegistry> {
  const registry = createAccountsRegistry();
  for (const [id, fields] of await readStream(redis, stream)) {
    if (compareStreamIds(id, until) > 0) break;
    const decoded = decodeEntry(accountEvents, fields);
    if (decoded.ok) applyAccountEvent(registry, decoded.event, id);
  }
  return registry;
}

/** What must be equal between two registries: every account, in order, with all it holds. */
const contents = (registry: AccountsRegistry) => [...registry.accounts.values()].map((account) => ({ ...account }));

function openRegistry(
  ctx: Context,
  stream: string,
  snapshotting: false | { everyEntries?: number; maxAgeMs?: number } = {},
) {
  const { log, lines } = recordingLog();
  const accounts = startAccountsProjection({
    redisAt: ctx.redisServer.url,
    log,
    name: 'test',
    stream,
    batchSize: 50,
    snapshots: snapshotting === false ? false : { secret: SECRET, ...snapshotting },
  });
  ctx.opened.push(accounts);
  return { accounts, lines };
}

/** Stores a snapshot of `registry` at `position` the way a projection stores one. */
function storeSnapshot(ctx: Context, stream: string, registry: AccountsRegistry, position: StreamId) {
  return redisSnapshots({
    redis: ctx.redis,
    key: snapshotKey(stream, 'registry', REGISTRY_SNAPSHOT_FORMAT),
    format: REGISTRY_SNAPSHOT_FORMAT,
    secret: SECRET,
    log: recordingLog().log,
    name: 'test',
    capture: () => registrySnapshotState(registry),
    restore: () => {},
  }).save(new Map([[stream, position]]));
}

snapshots('snapshot + the entries after it = the full replay, wherever the snapshot was taken', async (ctx) => {
  const stream = streamKey('accounts', uniquePrefix());
  const ids = await writeHistory(ctx.redis, stream, 300);
  const { accounts: full } = openRegistry(ctx, stream, false);
  await full.projection.whenReady();

  for (const cut of [0, 1, 36, 150, 298, 299]) {
    const position = ids[cut] as StreamId;
    await storeSnapshot(ctx, stream, await foldedUpTo(ctx.redis, stream, position), position);
    const { accounts: restored } = openRegistry(ctx, stream, { everyEntries: 1_000_000 });
    await restored.projection.whenReady();
    assert.is(restored.projection.restoredFrom?.get(stream), position, `restored from entry ${cut}`);
    assert.ok(restored.projection.applied <= 299 - cut, `replayed only what follows entry ${cut}`);
    assert.equal(contents(restored.registry), contents(full.registry), `cut at entry ${cut}`);
    assert.is(restored.projection.position, full.projection.position);
  }
});

snapshots('a projection snapshots as it goes; the next start takes up from there and tails on', async (ctx) => {
  const stream = streamKey('accounts', uniquePrefix());
  await writeHistory(ctx.redis, stream, 120);
  const first = openRegistry(ctx, stream, { everyEntries: 100 });
  await first.accounts.projection.whenReady();
  // 120 replayed is more than 100: a snapshot right after catching up.
  await waitFor(
    'the snapshot after catching up',
    () => first.lines.filter((line) => line.msg === 'snapshot stored').length,
    (stored) => stored === 1,
  );
  const more = await writeHistory(ctx.redis, stream, 150, 120);
  await first.accounts.projection.waitForPosition(more.at(-1) as StreamId, 5_000);
  await waitFor(
    'a snapshot while tailing',
    () => first.lines.filter((line) => line.msg === 'snapshot stored').length,
    (stored) => stored >= 2,
  );
  await first.accounts.close();
  const stored = await ctx.redis.hget(snapshotKey(stream, 'registry', REGISTRY_SNAPSHOT_FORMAT), 'positions');
  const snapshotAt = (JSON.parse(stored ?? '{}') as Record<string, string>)[stream];

  await writeHistory(ctx.redis, stream, 40, 270);
  const second = openRegistry(ctx, stream);
  const full = openRegistry(ctx, stream, false);
  await Promise.all([second.accounts.projection.whenReady(), full.accounts.projection.whenReady()]);
  assert.is(second.accounts.projection.restoredFrom?.get(stream), snapshotAt ?? 'a snapshot');
  assert.equal(contents(second.accounts.registry), contents(full.accounts.registry));

  const last = await appendEvent(ctx.redis, stream, accountEvents, registered('late-account'));
  await second.accounts.projection.waitForPosition(last, 5_000);
  await full.accounts.projection.waitForPosition(last, 5_000);
  assert.equal(contents(second.accounts.registry), contents(full.accounts.registry));
  assert.ok(second.accounts.registry.accounts.has('late-account'));
});

snapshots('without a snapshot, the whole stream is replayed, and that is logged', async (ctx) => {
  const stream = streamKey('accounts', uniquePrefix());
  await writeHistory(ctx.redis, stream, 10);
  const { accounts, lines } = openRegistry(ctx, stream);
  await accounts.projection.whenReady();
  assert.is(accounts.projection.restoredFrom, undefined);
  assert.is(accounts.registry.accounts.size, 7);
  assert.ok(lines.some((line) => line.msg === 'no snapshot; replaying from the start'));
});

const spoiled: Array<[string, (key: string, stream: string, ids: StreamId[]) => Promise<unknown>, RegExp]> = [
  [
    'a corrupt state',
    (key, _stream, _ids) => snapshotRedis.hset(key, 'state', '[["account-0","http://x","1-0"]]'),
    /HMAC does not match/,
  ],
  [
    'a corrupt position',
    (key, stream, ids) => snapshotRedis.hset(key, 'positions', JSON.stringify({ [stream]: ids[5] })),
    /HMAC does not match/,
  ],
  [
    'a position that is not an ID',
    async (key, stream) => {
      const state = (await snapshotRedis.hget(key, 'state')) ?? '';
      const positions = JSON.stringify({ [stream]: 'later' });
      await snapshotRedis.hset(key, 'positions', positions, 'hmac', sign(positions, state));
    },
    /not a stream ID/,
  ],
  ['no HMAC', (key) => snapshotRedis.hdel(key, 'hmac'), /HMAC does not match/],
  ['another format', (key) => snapshotRedis.hset(key, 'format', '1'), /of format 1; this code reads 2/],
  [
    'a forged state and a checksum recomputed as the format before HMACs did (sha256)',
    async (key) => {
      const positions = (await snapshotRedis.hget(key, 'positions')) ?? '';
      const state = '[["account-0","javascript:alert(1)","1-0"]]';
      const sha = createHash('sha256').update(`2\n${positions}\n`).update(state).digest('hex');
      await snapshotRedis.hset(key, 'state', state, 'hmac', sha, 'checksum', sha);
    },
    /HMAC does not match/,
  ],
  [
    'a state signed with another secret',
    async (key) => {
      const positions = (await snapshotRedis.hget(key, 'positions')) ?? '';
      const state = '[["account-0","http://x","1-0"]]';
      const forged = snapshotHmac('a-guess-of-what-the-secret-might-be!!', '2', positions, state);
      await snapshotRedis.hset(key, 'state', state, 'hmac', forged);
    },
    /HMAC does not match/,
  ],
  [
    'a position past the end of the stream (Redis lost data)',
    async (key, stream) => {
      const state = await snapshotRedis.hget(key, 'state');
      const positions = JSON.stringify({ [stream]: '99999999999999-0' });
      await snapshotRedis.hset(key, 'positions', positions, 'hmac', sign(positions, state ?? ''));
    },
    /past the stream's end/,
  ],
  ...['javascript:alert(1)', 'file:///etc/passwd', 'ftp://x/y'].map(
    (url): [string, (key: string) => Promise<unknown>, RegExp] => [
      `a correctly signed state whose URL is ${url}`,
      async (key) => {
        const positions = (await snapshotRedis.hget(key, 'positions')) ?? '';
        const state = JSON.stringify([['account-0', url, '1-0']]);
        await snapshotRedis.hset(key, 'state', state, 'hmac', sign(positions, state));
      },
      /state does not read: the url of account-0 is not an http\(s\) URL/,
    ],
  ),
  [
    'a state that does not read, correctly signed',
    async (key) => {
      const positions = (await snapshotRedis.hget(key, 'positions')) ?? '';
      const state = '[["Not A DNS Label","http://x","1-0"]]';
      await snapshotRedis.hset(key, 'state', state, 'hmac', sign(positions, state));
    },
    /state does not read: an account name is invalid/,
  ],
];

let snapshotRedis: Redis;

for (const [what, spoil, reason] of spoiled) {
  snapshots(`a snapshot with ${what} is ignored and logged; the full replay runs`, async (ctx) => {
    snapshotRedis = ctx.redis;
    const stream = streamKey('accounts', uniquePrefix());
    const ids = await writeHistory(ctx.redis, stream, 80);
    const position = ids[40] as StreamId;
    await storeSnapshot(ctx, stream, await foldedUpTo(ctx.redis, stream, position), position);
    await spoil(snapshotKey(stream, 'registry', REGISTRY_SNAPSHOT_FORMAT), stream, ids);

    const { accounts, lines } = openRegistry(ctx, stream);
    const { accounts: full } = openRegistry(ctx, stream, false);
    await Promise.all([accounts.projection.whenReady(), full.projection.whenReady()]);
    assert.is(accounts.projection.restoredFrom, undefined);
    assert.equal(contents(accounts.registry), contents(full.registry));
    const ignored = lines.find((line) => line.msg === 'snapshot ignored; replaying from the start');
    assert.ok(ignored, 'the ignored snapshot is logged');
    assert.match(String(ignored?.obj.reason), reason);
  });
}

snapshots(
  'rebuilt after Redis lost data: from the stream alone, not from a snapshot a process that had not noticed wrote there',
  async (ctx) => {
    const stream = streamKey('accounts', uniquePrefix());
    const ids = await writeHistory(ctx.redis, stream, 40);
    const end = ids.at(-1) as StreamId;
    const before = await foldedUpTo(ctx.redis, stream, end);
    await storeSnapshot(ctx, stream, before, end);
    const { accounts } = openRegistry(ctx, stream, { everyEntries: 1_000_000 });
    await accounts.projection.whenReady();
    assert.is(accounts.projection.restoredFrom?.get(stream), end, 'started from the snapshot, nothing after it');
    // At once, as a Redis back on an empty volume would be found: the stream and its marker gone, a
    // signed snapshot of the old registry written by another service still tailing the old data,
    // and a registration.
    const positions = JSON.stringify({ [stream]: end });
    const state = registrySnapshotState(before);
    await ctx.redis
      .multi()
      .del(stream, incarnationKey(stream))
      .hset(snapshotKey(stream, 'registry', REGISTRY_SNAPSHOT_FORMAT), {
        format: String(REGISTRY_SNAPSHOT_FORMAT),
        positions,
        state,
        hmac: sign(positions, state),
      })
      .xadd(stream, '*', ...encodeEvent(accountEvents, registered('eve-account')))
      .exec();
    await waitFor(
      'the registry rebuilt from the stream',
      () => accounts.projection.ready && [...accounts.registry.accounts.keys()].join(),
      (names) => names === 'eve-account',
      { timeoutMs: 20_000 },
    );
    assert.is(accounts.projection.restoredFrom, undefined);
    assert.is(accounts.projection.divergences, 1);
  },
);

snapshots(
  'a start finds a snapshot of data Redis lost, on a stream written anew past it: rebuilt from the stream',
  async (ctx) => {
    const stream = streamKey('accounts', uniquePrefix());
    const ids = await writeHistory(ctx.redis, stream, 40);
    const end = ids.at(-1) as StreamId;
    const lost = await foldedUpTo(ctx.redis, stream, end);
    // The stream is lost and written anew; a signed snapshot of the old registry is left (written
    // by a service that had not noticed). Its position is before the new stream's end.
    await ctx.redis.del(stream, incarnationKey(stream));
    await storeSnapshot(ctx, stream, lost, end);
    await appendEvent(ctx.redis, stream, accountEvents, registered('eve-account'));
    const { accounts, lines } = openRegistry(ctx, stream, { everyEntries: 1_000_000 });
    await waitFor(
      'the registry rebuilt from the stream',
      () => accounts.projection.ready && [...accounts.registry.accounts.keys()].join(),
      (names) => names === 'eve-account',
      { timeoutMs: 20_000 },
    );
    assert.ok(lines.some((line) => /is gone \(neither trimmed nor deleted\)/.test(String(line.obj.reason))));
  },
);

snapshots('a snapshot stays valid when the stream is trimmed below it', async (ctx) => {
  const stream = streamKey('accounts', uniquePrefix());
  await writeHistory(ctx.redis, stream, 100);
  const live = openRegistry(ctx, stream, { everyEntries: 50 });
  await live.accounts.projection.whenReady();
  await waitFor(
    'a snapshot',
    () => live.lines.some((line) => line.msg === 'snapshot stored'),
    (stored) => stored,
  );
  // Trimming drops the registrations of account-0 to account-6 that came before it.
  await ctx.redis.xtrim(stream, 'MAXLEN', 0);
  const after = [
    await appendEvent(ctx.redis, stream, accountEvents, registered('account-2', 'http://moved')),
    await appendEvent(ctx.redis, stream, accountEvents, registered('new-account')),
  ];
  await live.accounts.projection.waitForPosition(after[1] as StreamId, 5_000);

  const restarted = openRegistry(ctx, stream);
  await restarted.accounts.projection.whenReady();
  assert.ok(restarted.accounts.projection.restoredFrom, 'restored from the snapshot');
  assert.equal(contents(restarted.accounts.registry), contents(live.accounts.registry));
  assert.is(restarted.accounts.registry.accounts.size, 8);
  assert.is(restarted.accounts.registry.accounts.get('account-2')?.url, 'http://moved');
});

snapshots('the registry state round-trips, and a state that does not read changes nothing', () => {
  const registry = createAccountsRegistry();
  applyAccountEvent(registry, registered('john-account'), '1-0');
  applyAccountEvent(registry, registered('mary-account'), '2-0');
  applyAccountEvent(registry, registered('john-account', 'http://moved'), '3-0');
  const copy = createAccountsRegistry();
  restoreRegistry(copy, registrySnapshotState(registry));
  assert.equal(contents(copy), contents(registry));

  for (const state of [
    '{}',
    '[["a"]]',
    '[[1,"u","1-0"]]',
    '[["a","u","x"]]',
    '[["a","u","1-0"],["a","u","2-0"]]',
    '[',
  ]) {
    assert.throws(() => restoreRegistry(copy, state), undefined, state);
    assert.equal(contents(copy), contents(registry), `unchanged after ${state}`);
  }
});

snapshots.run();
