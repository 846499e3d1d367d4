/**
 * The transfer path on a real three-master Redis Cluster, through ioredis' Cluster client: every
 * key of one account shares a slot, the transfers' keys share theirs, so no script and no command
 * spans two slots (no CROSSSLOT) and every transfer completes. Two accounts on different masters
 * prove it: a command over both of their keys is refused.
 */
import { randomUUID } from 'node:crypto';
import { ledgerKey, ledgerStateKey, transfersKey } from '@microbank/events';
import { issueSupply, openingIssuance } from '@microbank/ledger';
import { silentLog } from '@microbank/streams';
import { type RedisCluster, startRedisCluster, testSuite, uniquePrefix, waitFor } from '@microbank/testing';
import { Cluster } from 'ioredis';
import * as assert from 'uvu/assert';
import { startProcessor } from './processor.ts';
import { requestTransfer, transferStatus } from './transfer-log.ts';

const cluster = testSuite<{ redis: RedisCluster }>('transfers on a Redis Cluster', {} as { redis: RedisCluster });

cluster.before(async (ctx) => {
  ctx.redis = await startRedisCluster();
});
cluster.after(async (ctx) => {
  await ctx.redis?.dispose();
});

const client = (ctx: { redis: RedisCluster }) =>
  new Cluster(ctx.redis.nodes, { enableOfflineQueue: true, redisOptions: { connectionName: 'test' } });

cluster('every transfer completes, with its debit and credit on the accounts` own slots', async (ctx) => {
  const redis = client(ctx);
  const blockRedis = client(ctx);
  const prefix = uniquePrefix();
  const processor = startProcessor({
    redis,
    blockRedis,
    log: silentLog,
    consumer: 'cluster-test',
    claimIdleMs: 1_000,
    blockMs: 200,
    prefix,
  });
  try {
    const accounts = ['john-account', 'mary-account', 'bob-account', 'eve-account'];
    const slots = await Promise.all(accounts.map((account) => redis.cluster('KEYSLOT', ledgerKey(account, prefix))));
    assert.ok(new Set(slots).size > 1, `the accounts spread over slots ${slots.join(', ')}`);
    for (const account of accounts) {
      await issueSupply(redis, { issuance: openingIssuance(account), account, amount: 100 }, prefix);
    }
    // Two accounts' keys together are refused: the design never asks that.
    const masters = redis.nodes('master');
    assert.is(masters.length, 3);
    let crossSlot = '';
    try {
      await redis.call('MGET', ledgerStateKey('john-account', prefix), ledgerStateKey('mary-account', prefix));
    } catch (error) {
      crossSlot = (error as Error).message;
    }
    assert.match(crossSlot, /CROSSSLOT/);

    const transfers: string[] = [];
    for (let i = 0; i < 40; i++) {
      const from = accounts[i % 4] as string;
      const to = accounts[(i + 1) % 4] as string;
      const requested = await requestTransfer(redis, { from, to, amount: 5 }, 'test', randomUUID(), prefix);
      transfers.push(requested.transfer);
    }
    for (const transfer of transfers) {
      const status = await waitFor(
        `transfer ${transfer} to complete`,
        () => transferStatus(redis, transfer, prefix),
        (found) => found?.status === 'completed',
      );
      assert.is(status?.status, 'completed');
    }
    assert.is(processor.counts.settled, 40);
    assert.is(await redis.xlen(transfersKey(prefix)), 80, 'each transfer requested and completed once');
  } finally {
    await processor.stop();
    redis.disconnect();
  }
});

cluster.run();
