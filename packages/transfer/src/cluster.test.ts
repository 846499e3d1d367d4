/**
 * The transfer path on a real Redis Cluster (3 primaries × 1 replica), through the bank's own
 * connection layer (connectRedis with REDIS_CLUSTER's settings, each write confirmed by a replica):
 * every key of one account shares a slot, the transfers' keys share theirs, so no script and no
 * command spans two slots (a command over two accounts' keys is refused with CROSSSLOT, and the
 * design never sends one), and every transfer completes. Then live resharding: 1,000 slots moved
 * from one primary to another while four clients move money, and not one transfer fails.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { ledgerKey, ledgerStateKey, ledgerStepsKey, transfersKey } from '@microbank/events';
import { issueSupply, openingIssuance } from '@microbank/ledger';
import { closeRedis, connectRedis, type RedisClient, silentLog, Unconfirmed, untilReady } from '@microbank/streams';
import { type RedisCluster, startRedisCluster, testSuite, uniquePrefix, waitFor } from '@microbank/testing';
import * as assert from 'uvu/assert';
import { startAdmission } from './admission.ts';
import { startProcessor } from './processor.ts';
import { runSaga } from './saga.ts';
import { requestTransfer, transferStatus } from './transfer-log.ts';

const run = promisify(execFile);

const cluster = testSuite<{ redis: RedisCluster }>('transfers on a Redis Cluster', {} as { redis: RedisCluster });

cluster.before(async (ctx) => {
  ctx.redis = await startRedisCluster({ masters: 3, replicasPerMaster: 1, nodeTimeoutMs: 2_000 });
});
cluster.after(async (ctx) => {
  await ctx.redis?.dispose();
});

const connect = async (ctx: { redis: RedisCluster }, name: string): Promise<RedisClient> => {
  const redis = connectRedis(
    {
      urls: ctx.redis.nodes.map(({ host, port }) => `redis://${host}:${port}`),
      cluster: true,
      confirm: { replicas: 1, timeoutMs: 2_000 },
    },
    name,
    silentLog,
  );
  await untilReady(redis);
  return redis;
};

/** A bank of `accounts`, each issued 1,000, with a processor running on it. */
async function bankOn(ctx: { redis: RedisCluster }, accounts: string[]) {
  const redis = await connect(ctx, 'test:commands');
  const prefix = uniquePrefix();
  const processor = startProcessor({
    redis,
    blockRedis: await connect(ctx, 'test:processor'),
    log: silentLog,
    consumer: 'cluster-test',
    claimIdleMs: 1_000,
    blockMs: 200,
    prefix,
  });
  for (const account of accounts) {
    await issueSupply(redis, { issuance: openingIssuance(account), account, amount: 1_000 }, prefix);
  }
  return {
    redis,
    prefix,
    processor,
    async close() {
      await processor.stop();
      await closeRedis(redis);
    },
  };
}

/**
 * Sends a transfer request, and again with the same key while it is unconfirmed (as a client does
 * with a 503 indeterminate); any error fails it: a moving slot must not reach the client.
 */
async function requested(redis: RedisClient, from: string, to: string, prefix: string): Promise<string> {
  const key = randomUUID();
  for (let attempt = 0; attempt < 50; attempt++) {
    const answer = await requestTransfer(redis, { from, to, amount: 1 }, 'test', key, prefix);
    if (answer.kind === 'key-reused') throw new Error(`key ${key} reused`);
    if (answer.confirmed) return answer.transfer;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`no confirmed answer for key ${key}`);
}

const completed = (redis: RedisClient, transfer: string, prefix: string) =>
  waitFor(
    `transfer ${transfer} to complete`,
    () => transferStatus(redis, transfer, prefix),
    (found) => found?.status === 'completed',
    { timeoutMs: 30_000 },
  );

cluster('every transfer completes, with its debit and credit on the accounts` own slots', async (ctx) => {
  const accounts = ['john-account', 'mary-account', 'bob-account', 'eve-account'];
  const bank = await bankOn(ctx, accounts);
  const { redis, prefix } = bank;
  try {
    const slots = await Promise.all(accounts.map((account) => ctx.redis.keySlot(ledgerKey(account, prefix))));
    assert.ok(new Set(slots).size > 1, `the accounts spread over slots ${slots.join(', ')}`);
    // Two accounts' keys together are refused: the design never asks that.
    let crossSlot = '';
    try {
      await redis.call('MGET', ledgerStateKey('john-account', prefix), ledgerStateKey('mary-account', prefix));
    } catch (error) {
      crossSlot = (error as Error).message;
    }
    assert.match(crossSlot, /CROSSSLOT/);

    const transfers: string[] = [];
    for (let i = 0; i < 40; i++) {
      transfers.push(await requested(redis, accounts[i % 4] as string, accounts[(i + 1) % 4] as string, prefix));
    }
    for (const transfer of transfers) await completed(redis, transfer, prefix);
    assert.is(bank.processor.counts.settled, 40);
    assert.is(await redis.xlen(transfersKey(prefix)), 80, 'each transfer requested and completed once');
  } finally {
    await bank.close();
  }
});

cluster('1,000 slots move between primaries while four clients move money: not one transfer fails', async (ctx) => {
  const primaries = (await ctx.redis.topology()).filter((node) => node.role === 'primary');
  const [from, to] = primaries;
  if (!from || !to) throw new Error('two primaries wanted');
  const slotsOf = async (port: number) =>
    new Set(
      (await ctx.redis.topology())
        .filter((node) => node.port === port)
        .flatMap((node) => node.slots)
        .flatMap(([first, last]) => Array.from({ length: last - first + 1 }, (_, i) => first + i)),
    );
  // redis-cli takes the slots to move from the start of the source's: half the accounts are chosen
  // there, so that their ledgers move under the load, the other half stay.
  const moving = new Set([...(await slotsOf(from.port))].sort((a, b) => a - b).slice(0, 1_000));
  const movers: string[] = [];
  const stayers: string[] = [];
  for (let n = 1; movers.length < 4 || stayers.length < 4; n++) {
    const account = `account-${n}`;
    const group = moving.has(await ctx.redis.keySlot(ledgerKey(account))) ? movers : stayers;
    if (group.length < 4) group.push(account);
  }
  const accounts = [...movers, ...stayers];
  const bank = await bankOn(ctx, accounts);
  const { redis, prefix } = bank;
  try {
    const before = await slotsOf(to.port);
    let resharding = true;
    const transfers: string[] = [];
    const failures: string[] = [];
    const clients = [0, 1, 2, 3].map(async (client) => {
      for (let i = 0; resharding || i < 5; i++) {
        // Each transfer between an account that moves and one that stays, both ways.
        const mover = movers[(client + i) % movers.length] as string;
        const stayer = stayers[(client + 2 * i) % stayers.length] as string;
        const [payer, payee] = i % 2 === 0 ? [mover, stayer] : [stayer, mover];
        try {
          transfers.push(await requested(redis, payer, payee, prefix));
        } catch (error) {
          failures.push((error as Error).message);
        }
      }
    });
    await waitFor(
      'transfers under way before the resharding',
      () => transfers.length,
      (n) => n >= 20,
    );
    const duringBefore = transfers.length;
    await run(
      'redis-cli',
      [
        '--cluster',
        'reshard',
        `127.0.0.1:${from.port}`,
        '--cluster-from',
        from.id,
        '--cluster-to',
        to.id,
        '--cluster-slots',
        '1000',
        '--cluster-yes',
      ],
      { timeout: 120_000 },
    );
    resharding = false;
    const during = transfers.length - duringBefore;
    await Promise.all(clients);
    const after = await slotsOf(to.port);
    assert.is(after.size - before.size, 1_000, '1,000 slots moved');
    for (const account of movers) {
      assert.ok(after.has(await ctx.redis.keySlot(ledgerKey(account))), `${account}'s ledger moved`);
    }
    assert.ok(during > 0, 'transfers were requested while the slots moved');
    assert.equal(failures, [], 'no request failed');
    assert.is(bank.processor.counts.failed, 0, 'no saga failed a delivery: the moving slots never reached it');
    for (const transfer of transfers) await completed(redis, transfer, prefix);
    const balances = await Promise.all(
      accounts.map(async (account) => Number(await redis.hget(ledgerStateKey(account, prefix), 'balance'))),
    );
    assert.is(
      balances.reduce((sum, balance) => sum + balance, 0),
      accounts.length * 1_000,
      'money conserved',
    );
    assert.is(
      await redis.xlen(transfersKey(prefix)),
      2 * transfers.length,
      'each transfer requested and completed once',
    );
  } finally {
    await bank.close();
  }
});

cluster('admission on a cluster: one primary near its maxmemory stops new transfers', async (ctx) => {
  const redis = await connect(ctx, 'test:admission');
  const admission = startAdmission(redis, 0.9, { everyMs: 50 });
  const [, second] = (await ctx.redis.topology()).filter((node) => node.role === 'primary');
  if (!second) throw new Error('a second primary wanted');
  try {
    await waitFor(
      'admitting while no primary is full',
      () => admission.admitting,
      (admitting) => admitting,
    );
    const used = Number(/used_memory:(\d+)/.exec(await ctx.redis.command(second.port, ['INFO', 'memory']))?.[1]);
    await ctx.redis.command(second.port, ['CONFIG', 'SET', 'maxmemory', String(Math.ceil(used * 1.05))]);
    await waitFor(
      'refusing while one primary is past the mark',
      () => admission.refusal,
      (refusal) => refusal === 'full',
    );
  } finally {
    await ctx.redis.command(second.port, ['CONFIG', 'SET', 'maxmemory', '0']);
    admission.stop();
    await closeRedis(redis);
  }
});

cluster(
  'a saga takes no step before the one before it is held: no credit while the debit is unconfirmed',
  async (ctx) => {
    const shardOfKey = async (key: string) => ctx.redis.shardOf(await ctx.redis.keySlot(key));
    const transfersShard = (await shardOfKey(transfersKey())).primary;
    let payer: { account: string; primary: number; replicas: number[] } | undefined;
    let payee: string | undefined;
    for (let n = 1; !payer || !payee; n++) {
      const account = `pair-${n}`;
      const shard = await shardOfKey(ledgerKey(account));
      if (!payer && shard.primary !== transfersShard) payer = { account, ...shard };
      else if (payer && shard.primary !== payer.primary) payee = account;
    }
    const bank = await bankOn(ctx, [payer.account, payee]);
    const { redis, prefix } = bank;
    await bank.processor.stop();
    try {
      const transfer = await requested(redis, payer.account, payee, prefix);
      const status = await transferStatus(redis, transfer, prefix);
      if (!status) throw new Error('no status');
      // The payer's shard loses its replica's answers; the transfers' and the payee's do not.
      for (const port of payer.replicas) ctx.redis.pause(port);
      let thrown: unknown;
      try {
        await runSaga(redis, status, prefix);
      } catch (error) {
        thrown = error;
      } finally {
        for (const port of payer.replicas) ctx.redis.resume(port);
      }
      assert.instance(thrown, Unconfirmed, 'the debit was not confirmed');
      assert.ok(
        await redis.hexists(ledgerStepsKey(payer.account, prefix), `debit:${transfer}`),
        'debited on the primary',
      );
      assert.not.ok(await redis.hexists(ledgerStepsKey(payee, prefix), `credit:${transfer}`), 'no credit made');
      const settlement = await runSaga(redis, status, prefix);
      assert.is(settlement.type, 'TransferCompleted', 'run again once the debit is held, it completes');
    } finally {
      await closeRedis(redis);
    }
  },
);

cluster.run();
