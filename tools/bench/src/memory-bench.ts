/**
 * `memory`: what a settled transfer leaves in Redis. On a fresh Redis with two issued accounts,
 * `transfers` transfers are requested and run through the saga (requestTransfer + runSaga, as the
 * processor runs them, 64 at a time) with a short retention. Redis's used memory (INFO, after
 * MEMORY PURGE) and the MEMORY USAGE of every key are taken at three moments, each over the same
 * figures for the bank before the transfers (its books opened, the scripts loaded), per transfer:
 *   live                just settled: each client's key and each transfer's status still kept
 *   after retention     those expired: the transfers stream, the ledgers and their step records
 *   after compaction    the transfers stream trimmed before the latest quiet cut (its archive
 *                       discarded) and the ledgers' step records behind it removed: what stays
 *                       is the ledger entries, the books (the figure held to the limit)
 *   steps read again    the same, once the steps hashes have shrunk their tables, as they do
 *                       when the next sagas' steps reach them
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  COMPACTED_BEFORE,
  idempotencyKey,
  ledgerKey,
  ledgerStepsKey,
  transferStatusKey,
  transfersKey,
} from '@microbank/events';
import { issueSupply, openingIssuance } from '@microbank/ledger';
import { connectRedis, redisMemory, silentLog, untilReady } from '@microbank/streams';
import { startTestRedis, waitFor } from '@microbank/testing';
import { compact, compactionPoint, requestTransfer, runSaga, type TransferStatus } from '@microbank/transfer';
import type { Redis } from 'ioredis';

/** What the keys hold, by kind. */
export const KINDS = ['ledger entries', 'ledger steps', 'transfers stream', 'keys and statuses', 'other'] as const;
export type Kind = (typeof KINDS)[number];

export interface MemoryMoment {
  /** used_memory over the bank's before the transfers, per transfer. */
  usedMemoryBytes: number;
  /** The sum of MEMORY USAGE over every key, over the bank's before the transfers, per transfer. */
  keysBytes: number;
  /** keysBytes by kind. */
  byKind: Record<Kind, number>;
  /** Keys in the database. */
  keys: number;
  /** Transfers whose client's key and status were still kept (two keys each). */
  workingStateKept: number;
}

export interface MemoryFigures {
  transfers: number;
  retentionMs: number;
  accounts: number;
  /** The bank before the transfers. */
  baseline: { usedMemory: number; keysBytes: number; keys: number };
  live: MemoryMoment;
  afterRetention: MemoryMoment;
  afterCompaction: MemoryMoment;
  /** After compaction, once the steps hashes have been read again (as the next sagas do). */
  stepsReadAgain: MemoryMoment;
  /** Transfers-stream entries archived and trimmed, and ledger step records removed. */
  compacted: { entries: number; steps: number };
}

const ACCOUNTS = ['bench-a', 'bench-b'];
const OPENING_ISSUANCE = 1_000_000_000;
/** Sagas run at once, as a processor runs a batch; the ledger scripts keep them apart. */
const CONCURRENCY = 64;

function kindOf(key: string): Kind {
  if (ACCOUNTS.some((account) => key === ledgerKey(account))) return 'ledger entries';
  if (ACCOUNTS.some((account) => key === ledgerStepsKey(account))) return 'ledger steps';
  if (key === transfersKey()) return 'transfers stream';
  if (key.startsWith(idempotencyKey('')) || key.startsWith(transferStatusKey(''))) return 'keys and statuses';
  return 'other';
}

async function usedMemory(redis: Redis): Promise<number> {
  await redis.call('MEMORY', 'PURGE');
  return (await redisMemory(redis)).used;
}

/** Every key (SCAN, which also expires what it meets), with the sum of their MEMORY USAGE by kind. */
async function keysUsage(redis: Redis): Promise<{ keys: number; working: number; byKind: Record<Kind, number> }> {
  const byKind = Object.fromEntries(KINDS.map((kind) => [kind, 0])) as Record<Kind, number>;
  let keys = 0;
  let working = 0;
  let cursor = '0';
  do {
    const [next, found] = await redis.scan(cursor, 'COUNT', 1_000);
    cursor = next;
    const usage = await Promise.all(
      found.map((key) => redis.call('MEMORY', 'USAGE', key, 'SAMPLES', '0') as Promise<number | null>),
    );
    found.forEach((key, i) => {
      const size = usage[i];
      if (size === null || size === undefined) return; // expired between SCAN and MEMORY USAGE
      const kind = kindOf(key);
      keys++;
      if (kind === 'keys and statuses') working++;
      byKind[kind] += size;
    });
  } while (cursor !== '0');
  return { keys, working, byKind };
}

const sum = (byKind: Record<Kind, number>) => KINDS.reduce((total, kind) => total + byKind[kind], 0);

/** One transfer, requested and settled as the processor does it. */
async function transferOnce(redis: Redis, i: number, retentionMs: number): Promise<void> {
  const request = { from: ACCOUNTS[i % 2] as string, to: ACCOUNTS[(i + 1) % 2] as string, amount: 1 };
  const requested = await requestTransfer(redis, request, 'bench', randomUUID(), undefined, retentionMs);
  if (requested.kind !== 'new') throw new Error(`transfer ${i}: ${requested.kind}`);
  const status: TransferStatus = {
    transfer: requested.transfer,
    status: 'pending',
    ...request,
    requestedAt: new Date().toISOString(),
    client: 'bench',
    position: requested.position,
  };
  const settled = await runSaga(redis, status, undefined, retentionMs);
  if (settled.type !== 'TransferCompleted') throw new Error(`transfer ${i}: ${JSON.stringify(settled)}`);
}

/** Until no key is left with a time to live (SCAN expires what it meets; Redis's own cycle the rest). */
async function untilExpired(redis: Redis, timeoutMs: number): Promise<void> {
  const keyspace = async () => {
    await keysUsage(redis);
    return (await redis.info('keyspace')).trim();
  };
  await waitFor('the keys with a time to live to expire', keyspace, (info) => !/expires=[1-9]/.test(info), {
    timeoutMs,
    intervalMs: 50,
  });
}

export async function memoryBench(transfers: number, retentionMs: number): Promise<MemoryFigures> {
  const server = await startTestRedis();
  const redis = connectRedis(server.url, 'bench:memory', silentLog);
  try {
    await untilReady(redis);
    // Memory is measured here, not durability: no fsync per write slowing the transfers down (the
    // working state must still be there when the transfers are done), no AOF buffers counted.
    await redis.config('SET', 'appendonly', 'no');
    for (const account of ACCOUNTS) {
      await issueSupply(redis, { issuance: openingIssuance(account), account, amount: OPENING_ISSUANCE });
    }
    // One transfer kept for 1 ms first, so that the scripts are loaded before the baseline and
    // nothing of it but its ledger entries is left in it.
    await transferOnce(redis, 0, 1);
    await untilExpired(redis, 10_000);
    const baseKeys = await keysUsage(redis);
    const baseline = { usedMemory: await usedMemory(redis), keysBytes: sum(baseKeys.byKind), keys: baseKeys.keys };
    const moment = async (): Promise<MemoryMoment> => {
      const used = await usedMemory(redis);
      const { keys, working, byKind } = await keysUsage(redis);
      const perTransfer = Object.fromEntries(
        KINDS.map((kind) => [kind, (byKind[kind] - baseKeys.byKind[kind]) / transfers]),
      ) as Record<Kind, number>;
      return {
        usedMemoryBytes: (used - baseline.usedMemory) / transfers,
        keysBytes: (sum(byKind) - baseline.keysBytes) / transfers,
        byKind: perTransfer,
        keys,
        workingStateKept: Math.floor(working / 2),
      };
    };

    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < transfers) await transferOnce(redis, next++, retentionMs);
      }),
    );
    const live = await moment();
    // Every time to live was set before now: a retention from now, all of them have passed.
    await sleep(retentionMs);
    await untilExpired(redis, 30_000);
    const afterRetention = await moment();

    // The latest quiet cut of the stream is the last request made (every one before it settled):
    // one more transfer, so that the cut comes after every measured one.
    await transferOnce(redis, transfers, 1);
    const before = await compactionPoint(redis, Date.now());
    if (before === undefined) throw new Error('no quiet cut of the transfers stream');
    const result = await compact(redis, { before, accounts: ACCOUNTS, archive: async () => {}, checkpoint: 'bench' });
    await untilExpired(redis, 10_000);
    const afterCompaction = await moment();
    // A hash that lost most of its fields keeps its large table until Redis has rehashed it into a
    // smaller one, a step at each later command on it: the next sagas' steps. Reads as many as the
    // large table has buckets finish that.
    const touches = 2 * 2 ** Math.ceil(Math.log2(transfers + 2));
    for (const account of ACCOUNTS) {
      const pipeline = redis.pipeline();
      for (let i = 0; i < touches; i++) pipeline.hget(ledgerStepsKey(account), COMPACTED_BEFORE);
      await pipeline.exec();
    }
    const stepsReadAgain = await moment();
    return {
      transfers,
      retentionMs,
      accounts: ACCOUNTS.length,
      baseline,
      live,
      afterRetention,
      afterCompaction,
      stepsReadAgain,
      compacted: { entries: result.entries, steps: result.steps },
    };
  } finally {
    redis.disconnect();
    await server.dispose();
  }
}
