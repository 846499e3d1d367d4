/**
 * Compaction: what a settled transfer leaves behind, once it is older than the retention, shrinks
 * to its ledger entries. The transfers stream is archived and trimmed before a compaction point,
 * and the ledgers' step records of the transfers requested before it are removed. The point is a
 * quiet cut of the transfers stream: every transfer requested before it was also settled before
 * it, in an earlier millisecond, so all of their ledger entries lie in earlier milliseconds too (a
 * saga writes its ledgers before it settles, on one Redis clock). Entry IDs of two streams are
 * compared by their time only: the part after the dash counts within one stream. Once recorded, the point is what keeps those transfers from paying twice: the ledger
 * scripts refuse any step of a transfer requested before it (by position, not by time), the
 * processors acknowledge such an entry without running it, and the audit accepts ledger entries
 * before it whose requests were archived.
 *
 * Order, so that a compaction stopped anywhere leaves nothing unsafe: the archive is written and
 * synced, the point is recorded (the record, then each ledger's steps), the steps are removed, and
 * only then is the stream trimmed.
 */
import { randomUUID } from 'node:crypto';
import {
  COMPACTED_BEFORE,
  compactionKey,
  compactionLockKey,
  ledgerStepsKey,
  transferEvents,
  transfersKey,
} from '@microbank/events';
import { type RedisClient, stepEntry } from '@microbank/ledger';
import { compareStreamIds, decodeEntry, entryPages, type StreamId, streamIdMillis } from '@microbank/streams';

const PAGE = 1_000;

type Entry = [id: StreamId, fields: string[]];

/**
 * The latest quiet cut of the transfers stream older than `olderThan` (a time in ms): the ID of an
 * entry before which every request has its settlement, in a millisecond after the entry before it.
 * Undefined when there is none.
 */
export async function compactionPoint(
  redis: RedisClient,
  olderThan: number,
  prefix?: string,
): Promise<StreamId | undefined> {
  const open = new Set<string>();
  let point: StreamId | undefined;
  let previousMs = -1;
  for await (const page of entryPages(redis, transfersKey(prefix))) {
    for (const [id, fields] of page) {
      const ms = streamIdMillis(id);
      if (ms > olderThan) return point;
      if (open.size === 0 && ms > previousMs) point = id;
      previousMs = ms;
      const decoded = decodeEntry(transferEvents, fields);
      if (!decoded.ok) continue;
      const { event } = decoded;
      if (event.type === 'TransferRequested') open.add(event.data.transfer);
      else open.delete(event.data.transfer);
    }
  }
  return point;
}

/** The compaction point recorded last, if any. */
export async function compactedBefore(redis: RedisClient, prefix?: string): Promise<StreamId | undefined> {
  return (await redis.hget(compactionKey(prefix), 'before')) ?? undefined;
}

export interface CompactionResult {
  before: StreamId;
  /** Transfers-stream entries archived and trimmed. */
  entries: number;
  /** Step records removed, over all ledgers. */
  steps: number;
}

export interface CompactionOptions {
  /** The point: from compactionPoint. */
  before: StreamId;
  /** The accounts whose ledgers' steps are compacted. */
  accounts: readonly string[];
  /** Writes the entries before the point somewhere durable, and resolves once they are synced. */
  archive(entries: Entry[]): Promise<void>;
  /** What the audit said of the books when it was verified (kept with the point). */
  checkpoint: string;
  prefix?: string;
}

/** Compacts behind `before`: see the module's comment for what and in which order. */
export async function compact(redis: RedisClient, options: CompactionOptions): Promise<CompactionResult> {
  // One compaction at a time: two would race on each ledger's point (read, then raise).
  const lock = compactionLockKey(options.prefix);
  const token = randomUUID();
  if ((await redis.set(lock, token, 'PX', COMPACTION_LOCK_MS, 'NX')) === null) {
    throw new Error('another compaction is running (its lock expires by itself if it died)');
  }
  try {
    return await compactLocked(redis, options);
  } finally {
    if ((await redis.get(lock)) === token) await redis.del(lock);
  }
}

/** How long a compaction may hold its lock: far longer than one takes, short enough after a crash. */
const COMPACTION_LOCK_MS = 10 * 60_000;

async function compactLocked(redis: RedisClient, options: CompactionOptions): Promise<CompactionResult> {
  const { before, accounts, prefix } = options;
  const earlier = await compactedBefore(redis, prefix);
  if (earlier !== undefined && compareStreamIds(before, earlier) <= 0) {
    throw new Error(`the transfers are compacted before ${earlier} already; ${before} is not past it`);
  }
  const stream = transfersKey(prefix);
  const archived: Entry[] = [];
  for await (const page of entryPages(redis, stream, '-', `(${before}`)) archived.push(...page);
  await options.archive(archived);
  await redis.hset(compactionKey(prefix), {
    before,
    checkpoint: options.checkpoint,
    at: new Date().toISOString(),
  });
  // Every ledger refuses steps behind the point before any ledger loses a step record: a saga
  // still running across the compaction then meets a refusal on both of its ledgers, never a
  // compacted credit on one and a debit it could give back on the other.
  for (const account of accounts) await raisePoint(redis, ledgerStepsKey(account, prefix), before);
  let steps = 0;
  for (const account of accounts) steps += await compactSteps(redis, ledgerStepsKey(account, prefix), before);
  await redis.xtrim(stream, 'MINID', before);
  return { before, entries: archived.length, steps };
}

/** Records `before` as one ledger's compaction point, unless it has a later one. */
async function raisePoint(redis: RedisClient, steps: string, before: StreamId): Promise<void> {
  const point = await redis.hget(steps, COMPACTED_BEFORE);
  if (point === null || compareStreamIds(point, before) < 0) await redis.hset(steps, COMPACTED_BEFORE, before);
}

/**
 * Removes from one ledger's steps hash (its point recorded first) the steps whose ledger entry lies
 * before it (in an earlier millisecond). A refusal kept without an entry (a credit to a ledger
 * never opened) cannot be dated and stays.
 */
async function compactSteps(redis: RedisClient, steps: string, before: StreamId): Promise<number> {
  const beforeMs = streamIdMillis(before);
  let removed = 0;
  let cursor = '0';
  do {
    const [next, flat] = (await redis.hscan(steps, cursor, 'COUNT', PAGE)) as [string, string[]];
    cursor = next;
    const behind: string[] = [];
    for (let i = 0; i < flat.length; i += 2) {
      const [field, outcome] = [flat[i] as string, flat[i + 1] as string];
      // A transfer's step that appended an entry before the point; an issuance's stays (it guards
      // the supply, not a transfer), and so do refusals, which name no entry to date them by.
      const step = stepEntry(field, outcome);
      if (step && step.type !== 'Issued' && streamIdMillis(step.entry) < beforeMs) behind.push(field);
    }
    if (behind.length > 0) removed += await redis.hdel(steps, ...behind);
  } while (cursor !== '0');
  return removed;
}
