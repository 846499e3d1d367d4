/**
 * A full Redis never strands money: against a real Redis given a small maxmemory, a load of
 * transfers meets 202 or 503 (never 500); once memory nears the mark new transfers are refused, and
 * every accepted one settles while the memory is still taken; when memory is freed, transfers are
 * accepted again and settle.
 */
import { randomUUID } from 'node:crypto';
import {
  type AccountsProjection,
  accountEvents,
  ledgerStateKey,
  startAccountsProjection,
  streamKey,
} from '@microbank/events';
import { issueSupply, openingIssuance } from '@microbank/ledger';
import { createLogger, createMetrics, type ServiceMetrics } from '@microbank/service-runtime';
import { appendEvent, connectRedis, redisMemory, silentLog, untilReady } from '@microbank/streams';
import { type RedisServerContext, recordingLog, redisSuite, uniquePrefix, waitFor } from '@microbank/testing';
import type { Hono } from 'hono';
import * as assert from 'uvu/assert';
import { type Admission, startAdmission } from './admission.ts';
import { createTransferApp } from './app.ts';
import { credentialsOf, newCredential } from './credentials.ts';
import { type Processor, startProcessor } from './processor.ts';
import { transferStatuses } from './transfer-log.ts';
import { registerAdmissionMetrics } from './transfer-metrics.ts';

interface Extra {
  accounts: AccountsProjection;
  admission: Admission;
  processor: Processor;
  app: Hono;
  prefix: string;
}
type Context = RedisServerContext & Extra;

const full = redisSuite<Extra>('a full Redis');
const log = createLogger('transfer', 'silent');
const operator = newCredential('operator');
/** Plenty: the test is about room in Redis, not about money. */
const OPENING_ISSUANCE = 1_000_000;
/** The mark: new transfers are refused from this share of maxmemory on. */
const HIGH_WATER = 0.9;

full.before(async (ctx) => {
  ctx.prefix = uniquePrefix();
  const stream = streamKey('accounts', ctx.prefix);
  ctx.accounts = startAccountsProjection({ redisAt: ctx.redisServer.url, log, name: 'transfer', stream });
  await ctx.accounts.projection.whenReady();
  let last = '0-0';
  for (const account of ['john-account', 'mary-account']) {
    await issueSupply(
      ctx.accounts.redis,
      { issuance: openingIssuance(account), account, amount: OPENING_ISSUANCE },
      ctx.prefix,
    );
    last = await appendEvent(ctx.accounts.redis, stream, accountEvents, {
      type: 'AccountRegistered',
      data: { account, url: 'http://127.0.0.1:1', instance: 't', registeredAt: new Date().toISOString() },
    });
  }
  await ctx.accounts.projection.waitForPosition(last, 5_000);
  ctx.admission = startAdmission(ctx.accounts.redis, HIGH_WATER, { everyMs: 20 });
  ctx.processor = startProcessor({
    redis: ctx.accounts.redis,
    blockRedis: connectRedis(ctx.redisServer.url, 'processor', silentLog),
    log: silentLog,
    consumer: 'p1',
    claimIdleMs: 500,
    blockMs: 100,
    prefix: ctx.prefix,
  });
  const metrics = createMetrics('transfer');
  registerAdmissionMetrics(metrics, ctx.admission);
  ctx.app = createTransferApp({
    log,
    metrics,
    ...ctx.accounts,
    credentials: credentialsOf([{ client: 'operator', sha256: operator.sha256, debits: '*' }]),
    admission: ctx.admission,
    prefix: ctx.prefix,
  });
});

full.after(async (ctx) => {
  ctx.admission.stop();
  await ctx.processor.stop();
  await ctx.accounts.close();
});

const post = (ctx: Context) =>
  ctx.app.request('/transfers', {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'idempotency-key': randomUUID(),
      authorization: `Bearer ${operator.credential}`,
    },
    body: JSON.stringify({ from: 'john-account', to: 'mary-account', amount: 1 }),
  });

/** Posts transfers one after another until `until()` or a refusal; the ids accepted and every status seen. */
async function load(ctx: Context, until: () => boolean, limit = 3_000) {
  const accepted: string[] = [];
  const statuses = new Map<number, number>();
  for (let sent = 0; sent < limit && !until() && statuses.size < 2; sent++) {
    const response = await post(ctx);
    statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
    if (response.status === 202) accepted.push(((await response.json()) as { transfer: string }).transfer);
    else await response.text();
  }
  return { accepted, statuses };
}

/** The admission gauges as the service's /metrics shows them (or the registry's own text). */
async function admissionGauges(from: Hono | ServiceMetrics): Promise<{ full?: string; unread?: string }> {
  const text = 'registry' in from ? await from.registry.metrics() : await (await from.request('/metrics')).text();
  const gauge = (name: string) => new RegExp(`^microbank_admission_${name}(?:{[^}]*})? (\\d+)$`, 'm').exec(text)?.[1];
  return { full: gauge('full'), unread: gauge('unread') };
}

const unsettled = async (ctx: Context, transfers: string[]) =>
  (await transferStatuses(ctx.accounts.redis, transfers, ctx.prefix)).filter((s) => s?.status !== 'completed').length;

full('near maxmemory new transfers get 503, those accepted settle while memory is still taken', async (ctx) => {
  const redis = ctx.accounts.redis;
  const memory = () => redisMemory(redis);
  // Room for a few hundred transfers above what Redis holds now, most of it filled with ballast.
  const { used } = await memory();
  const max = used + 2 * 1024 * 1024;
  await redis.config('SET', 'maxmemory', String(max));
  await redis.config('SET', 'maxmemory-policy', 'noeviction');
  const ballast = `${ctx.prefix}:ballast`;
  for (let i = 0; (await memory()).used < 0.8 * max; i++) await redis.set(`${ballast}:${i}`, 'x'.repeat(8 * 1024));

  const first = await load(ctx, () => !ctx.admission.admitting && ctx.admission.reading !== undefined);
  assert.ok(first.accepted.length > 0, 'transfers were accepted below the mark');
  // The mark was reached by the transfers themselves; from then on every new one is refused.
  const refused = await post(ctx);
  assert.is(refused.status, 503);
  assert.equal(await refused.json(), {
    error: 'full',
    message:
      'the bank is short of room: new transfers wait until memory is freed (those accepted still settle); try again later',
  });
  assert.is(refused.headers.get('retry-after'), '5');
  assert.equal(await admissionGauges(ctx.app), { full: '1', unread: '0' }, 'the refusal is on /metrics');
  // Every accepted transfer settles with the ballast still in: the room above the mark is theirs.
  await waitFor(
    'every accepted transfer to settle',
    () => unsettled(ctx, first.accepted),
    (n) => n === 0,
    {
      timeoutMs: 20_000,
    },
  );
  assert.ok((await memory()).used >= HIGH_WATER * max * 0.95, 'memory was still taken meanwhile');
  assert.equal(
    [...first.statuses.keys()].filter((status) => status !== 202 && status !== 503),
    [],
    'only 202 and 503',
  );

  // Memory freed: new transfers are taken again, and settle.
  await redis.del(...(await redis.keys(`${ballast}:*`)));
  await waitFor(
    'admission to admit again',
    async () => ctx.admission.admitting,
    (admitting) => admitting,
    { timeoutMs: 5_000 },
  );
  assert.equal(await admissionGauges(ctx.app), { full: '0', unread: '0' });
  const second = await load(ctx, () => false, 20);
  assert.is(second.accepted.length, 20, JSON.stringify([...second.statuses]));
  await waitFor(
    'the new transfers to settle',
    () => unsettled(ctx, second.accepted),
    (n) => n === 0,
    {
      timeoutMs: 20_000,
    },
  );
  // Nothing stranded, nothing lost: john paid exactly what was accepted, mary got it.
  const balance = async (account: string) => Number(await redis.hget(ledgerStateKey(account, ctx.prefix), 'balance'));
  const moved = first.accepted.length + second.accepted.length;
  assert.equal(
    [await balance('john-account'), await balance('mary-account')],
    [OPENING_ISSUANCE - moved, OPENING_ISSUANCE + moved],
  );
});

full('no reading, no admission: a fresh connection admits once its first reading says there is room', async (ctx) => {
  // Started with the connection, as the service starts it: the offline queue is off, so a read
  // sent now is refused; the reading comes once the connection is ready.
  const redis = connectRedis(ctx.redisServer.url, 'admission:fresh', silentLog);
  const admission = startAdmission(redis, HIGH_WATER, { everyMs: 1_000 });
  try {
    assert.equal([admission.admitting, admission.refusal], [false, 'unread'], 'nothing read yet');
    // Well before the next interval's look (1 s): the look made when the connection became ready.
    await waitFor(
      'the first reading',
      () => admission.refusal,
      (refusal) => refusal === undefined,
      {
        timeoutMs: 900,
      },
    );
    assert.ok(admission.admitting);
  } finally {
    admission.stop();
    redis.disconnect();
  }
});

full(
  'a reading gone stale (Redis not answering its INFO for over 2 s) stops admission until Redis is read again',
  async (ctx) => {
    const redis = connectRedis(ctx.redisServer.url, 'admission:stale', silentLog);
    const admission = startAdmission(redis, HIGH_WATER, { everyMs: 50 });
    const pauser = connectRedis(ctx.redisServer.url, 'admission:pauser', silentLog);
    try {
      await waitFor(
        'admission',
        () => admission.admitting,
        (admitting) => admitting,
        { timeoutMs: 5_000 },
      );
      await untilReady(pauser);
      // Every client's commands wait for 3 s: no reading comes, and the last one ages past 2 s.
      await pauser.client('PAUSE', 3_000, 'ALL');
      await waitFor(
        'the reading to go stale',
        () => admission.refusal,
        (refusal) => refusal === 'unread',
        {
          timeoutMs: 2_900,
        },
      );
      await waitFor(
        'a fresh reading',
        () => admission.refusal,
        (refusal) => refusal === undefined,
        {
          timeoutMs: 5_000,
        },
      );
    } finally {
      admission.stop();
      redis.disconnect();
      pauser.disconnect();
    }
  },
);

full('INFO refused for good (an ACL): no admission, and said once in the log, not at every look', async (ctx) => {
  const user = `noinfo${Date.now()}`;
  const admin = connectRedis(ctx.redisServer.url, 'admission:admin', silentLog);
  await untilReady(admin);
  await admin.call('ACL', 'SETUSER', user, 'on', '>secret', '~*', '&*', '+@all', '-info');
  const url = new URL(ctx.redisServer.url);
  url.username = user;
  url.password = 'secret';
  const redis = connectRedis(url.toString(), 'admission:noinfo', silentLog);
  const recorded = recordingLog();
  const admission = startAdmission(redis, HIGH_WATER, { everyMs: 20, log: recorded.log });
  const metrics = createMetrics('transfer');
  registerAdmissionMetrics(metrics, admission);
  try {
    await untilReady(redis);
    await waitFor(
      'the refusal logged',
      async () => recorded.lines.length,
      (n) => n > 0,
      { timeoutMs: 5_000 },
    );
    // Many more looks, all refused.
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.equal([admission.admitting, admission.refusal], [false, 'unread']);
    assert.equal(
      recorded.lines.map(({ level, msg }) => [level, msg]),
      [['warn', 'admission: Redis memory not read; new transfers refused once the last reading is stale']],
    );
    assert.match(String(recorded.lines[0]?.obj.err), /NOPERM/);
    assert.equal(await admissionGauges(metrics), { full: '0', unread: '1' }, 'and on /metrics for as long as it lasts');
  } finally {
    admission.stop();
    redis.disconnect();
    await admin.call('ACL', 'DELUSER', user);
    admin.disconnect();
  }
});

full.run();
