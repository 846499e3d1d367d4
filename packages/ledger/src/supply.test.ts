/**
 * The bank's issuance: read from its configuration (parseIssuance), issued at every start until
 * done (issueConfiguredSupply), a repeat changing nothing and a changed issuance refused and logged.
 */
import { supplyKey } from '@microbank/events';
import { connectRedis, silentLog } from '@microbank/streams';
import {
  type RedisContext,
  readStream,
  recordingLog,
  redisSuite,
  testSuite,
  uniquePrefix,
  waitFor,
} from '@microbank/testing';
import * as assert from 'uvu/assert';
import { checkLedger } from './ledger-check.ts';
import { issueConfiguredSupply, parseIssuance } from './supply.ts';

const parsing = testSuite('issuance configuration');

parsing('ISSUANCE names each account once with its amount, issued as opening:<account>', () => {
  assert.equal(parseIssuance('john-account=100,mary-account=250'), [
    { issuance: 'opening:john-account', account: 'john-account', amount: 100 },
    { issuance: 'opening:mary-account', account: 'mary-account', amount: 250 },
  ]);
  assert.equal(parseIssuance(' a = 1 ,\n b=1000000000000 '), [
    { issuance: 'opening:a', account: 'a', amount: 1 },
    { issuance: 'opening:b', account: 'b', amount: 1_000_000_000_000 },
  ]);
  assert.equal(parseIssuance(undefined), []);
  assert.equal(parseIssuance('  '), []);
  assert.is(parseIssuance(`${'a'.repeat(63)}=5`)[0]?.issuance, `opening:${'a'.repeat(63)}`);
});

parsing('a bad entry stops with ISSUANCE and the entry named', () => {
  for (const [value, why] of [
    ['john-account', /entry 1 \("john-account"\) is not <account>=<amount>/],
    ['john-account=100,', /entry 2 \(""\) is not/],
    ['John=1', /names no account/],
    ['a=0', /whole number from 1 to 10\^12/],
    ['a=01', /whole number from 1 to 10\^12/],
    ['a=1.5', /whole number/],
    ['a=1e3', /whole number/],
    ['a=-1', /whole number/],
    ['a=1000000000001', /whole number/],
    ['a=1,b=2,a=3', /entry 3 \("a=3"\) names a a second time/],
    ['a=1=2', /whole number/],
  ] as const) {
    assert.throws(
      () => parseIssuance(value),
      (error: Error) => /^invalid configuration: ISSUANCE /.test(error.message) && why.test(error.message),
      value,
    );
  }
});

parsing.run();

type Context = RedisContext & { prefix: string };

const issuing = redisSuite<{ prefix: string }>('issuing the configured supply', {
  connect: (url) => connectRedis(url, 'test', silentLog),
});

issuing.before.each((ctx) => {
  ctx.prefix = uniquePrefix();
});

const balanceOf = async (ctx: Context, account: string) =>
  (await checkLedger(ctx.redis, account, ctx.prefix)).ledger.balance;

issuing('issued once: a second start repeats it and changes nothing', async (ctx) => {
  const entries = parseIssuance('john-account=100,mary-account=50');
  assert.equal(await issueConfiguredSupply(ctx.redis, entries, silentLog, ctx.prefix), {
    issued: 2,
    repeated: 0,
    refused: 0,
  });
  assert.equal(await issueConfiguredSupply(ctx.redis, entries, silentLog, ctx.prefix), {
    issued: 0,
    repeated: 2,
    refused: 0,
  });
  assert.equal([await balanceOf(ctx, 'john-account'), await balanceOf(ctx, 'mary-account')], [100, 50]);
  assert.is((await readStream(ctx.redis, supplyKey(ctx.prefix))).length, 2);
});

issuing('an opening changed in the configuration is refused and logged; the others go on', async (ctx) => {
  await issueConfiguredSupply(ctx.redis, parseIssuance('john-account=100'), silentLog, ctx.prefix);
  const { log, lines } = recordingLog();
  const done = await issueConfiguredSupply(
    ctx.redis,
    parseIssuance('john-account=1000,mary-account=50'),
    log,
    ctx.prefix,
  );
  assert.equal(done, { issued: 1, repeated: 0, refused: 1 });
  const refused = lines.filter((line) => line.level === 'error');
  assert.is(refused.length, 1);
  assert.match(
    String(refused[0]?.obj.err),
    /opening:john-account cannot be changed: it was made as 100 into john-account/,
  );
  assert.equal([await balanceOf(ctx, 'john-account'), await balanceOf(ctx, 'mary-account')], [100, 50]);
});

issuing('while Redis is away it retries, and issues once Redis is back', async (ctx) => {
  const { log, lines } = recordingLog();
  await ctx.redisServer.kill();
  const done = issueConfiguredSupply(ctx.redis, parseIssuance('john-account=100'), log, ctx.prefix);
  await waitFor('a retry', () => lines.some((line) => line.msg === 'issuance not made yet; retrying'));
  await ctx.redisServer.restart();
  assert.equal(await done, { issued: 1, repeated: 0, refused: 0 });
  assert.is(await balanceOf(ctx, 'john-account'), 100);
});

issuing.run();
