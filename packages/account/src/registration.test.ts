/**
 * An account's registration against a Redis that loses it, two live instances claiming one
 * name, and a stream that can no longer take an append: each must be noticed and acted on.
 */
import { rmSync } from 'node:fs';
import { ledgerEvents, ledgerKey, streamKey } from '@microbank/events';
import { decodeEntry } from '@microbank/streams';
import {
  type NodeProcess,
  type RedisServerContext,
  readStream,
  redisSuite,
  spawnNode,
  waitFor,
} from '@microbank/testing';
import { Redis } from 'ioredis';
import * as assert from 'uvu/assert';

type Extra = { started: NodeProcess[] };
type Context = RedisServerContext & Extra;

const registration = redisSuite<Extra>('account registration kept', { perTest: true, extra: { started: [] } });

registration.after.each(async (ctx) => {
  for (const service of ctx.started.splice(0)) await service.stop();
});

function startAccount(ctx: Context, name: string, env: Record<string, string> = {}) {
  const service = spawnNode('packages/account/src/main.ts', {
    env: {
      REDIS_URL: ctx.redisServer.url,
      PORT: '0',
      ACCOUNT_NAME: name,
      REGISTRATION_CHECK_MS: '300',
      PRESENCE_TTL_MS: '900',
      ...env,
    },
  });
  ctx.started.push(service);
  return service;
}

const registrationsOf = async (ctx: Context, account: string) =>
  (await readStream(ctx.redisServer.url, streamKey('accounts'))).filter(([, fields]) =>
    fields.some((field) => field.includes(`"account":"${account}"`)),
  ).length;

/** A metric's value: the first series whose name and labels start with `series`; 0 when there is none. */
const metric = async (port: number, series: string) => {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((candidate) => candidate.startsWith(series));
  return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
};

registration('Redis back on an empty volume: the account registers again by itself', async (ctx) => {
  const john = startAccount(ctx, 'john-account');
  await john.logged('registered');
  // The account opened its ledger, with no money: only the bank issues money.
  assert.equal(
    (await readStream(ctx.redisServer.url, ledgerKey('john-account'))).map(([, fields]) =>
      decodeEntry(ledgerEvents, fields),
    ),
    [{ ok: true, event: { type: 'AccountOpened', data: { account: 'john-account', seq: 1 } } }],
  );
  await ctx.redisServer.kill();
  rmSync(ctx.redisServer.dataDir, { recursive: true, force: true });
  await ctx.redisServer.restart();
  await waitFor(
    'john-account on the stream again',
    () => registrationsOf(ctx, 'john-account'),
    (n) => n === 1,
  );
  await john.logged(/registration is gone from the stream/);
});

registration('data flushed while connected: noticed by the periodic look, registered again', async (ctx) => {
  const john = startAccount(ctx, 'john-account');
  await john.logged('registered');
  const redis = new Redis(ctx.redisServer.url);
  await redis.flushall();
  redis.disconnect();
  await waitFor(
    'john-account on the stream again',
    () => registrationsOf(ctx, 'john-account'),
    (n) => n === 1,
  );
});

registration(
  'two live instances of one name see each other; balance asks the older once the newer stops',
  async (ctx) => {
    const older = startAccount(ctx, 'twin-account');
    const olderPort = await older.port();
    await older.logged('registered');
    const newer = startAccount(ctx, 'twin-account');
    const newerPort = await newer.port();
    await newer.logged('registered');
    await older.logged(/another live instance claims this account/);
    await newer.logged(/another live instance claims this account/);
    assert.is(await metric(olderPort, 'microbank_account_duplicate_claims_total'), 1);
    assert.is(await metric(newerPort, 'microbank_account_live_instances'), 2);

    const balance = spawnNode('packages/balance/src/main.ts', { env: { REDIS_URL: ctx.redisServer.url, PORT: '0' } });
    ctx.started.push(balance);
    const balancePort = await balance.port();
    const asked = (port: number) => metric(port, 'microbank_http_requests_total{method="GET",route="/balance"');
    const ask = async () => (await fetch(`http://127.0.0.1:${balancePort}/balance/twin-account`)).status;
    await waitFor('balance to answer', ask, (status) => status === 200);
    assert.ok((await asked(newerPort)) >= 1, 'the newer, registered last, is asked while it lives');

    await newer.stop();
    const before = await asked(olderPort);
    await waitFor('balance to answer through the older instance', ask, (status) => status === 200, {
      timeoutMs: 5_000,
    });
    assert.ok((await asked(olderPort)) > before, 'the older instance answered');
  },
);

registration(
  'a stream that can take no more appends: not ready with the reason, counted, no retry storm',
  async (ctx) => {
    const redis = new Redis(ctx.redisServer.url);
    await redis.xadd(streamKey('accounts'), '18446744073709551615-18446744073709551615', 'full', 'stop');
    redis.disconnect();
    const john = startAccount(ctx, 'john-account');
    const port = await john.port();
    const readyz = await waitFor(
      'a not-ready answer naming the error',
      async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).json() as Promise<{ message?: string }>,
      (body) => /cannot be stored/.test(body.message ?? ''),
    );
    assert.match(readyz.message ?? '', /exhausted|last possible ID/i);
    assert.ok((await metric(port, 'microbank_account_registration_failures_total')) >= 1);
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const retries = john.lines.filter((line) => line.includes('registration not stored yet; retrying')).length;
    assert.is(retries, 0, 'an error no retry fixes is not retried as a dropped connection');
  },
);

registration.run();
