/**
 * `replay`: rebuilding a projection from scratch (the registry from the accounts stream, a ledger
 * from its stream), next to the cheapest read this client can do of the same entries in the same
 * process: buffer replies, the projection's batch size, the next batch requested before the current
 * one is looked at, every entry discarded. Beside them a bare fold: the same read, and of each entry
 * only the value the projection keeps by, found in its data (not decoded, not checked) and folded
 * (for the registry, set in a Map by account): less than any projection of these entries does, so
 * when it alone is over a limit, no projection can meet that limit here.
 * Run after run in turn, so their ratios hold on a noisy machine.
 */
import { startAccountsProjection } from '@microbank/events';
import { startLedgerProjection } from '@microbank/ledger';
import { PROJECTION_BATCH_SIZE, STREAM_START, silentLog } from '@microbank/streams';
import type { Redis } from 'ioredis';
import { median } from './stats.ts';

export interface ReplayFigures {
  /** What was rebuilt: the registry, or one account's ledger. */
  projection: 'registry' | 'ledger';
  /** The history's name (10k, 100k, 1M). */
  history: string;
  events: number;
  /** Median ms of the cheapest read of the whole stream: the limit under any replay with this client. */
  cheapestReadMs: number;
  /** Median ms from starting the projection to ready. */
  projectionMs: number;
  /** projectionMs / cheapestReadMs */
  ratio: number;
  /** Median ms of the bare fold of the same entries (older JSON figures have none). */
  bareFoldMs?: number;
  /** bareFoldMs / cheapestReadMs */
  bareFoldRatio?: number;
}

/** A fold of a stream's entries with nothing but what any projection of them must do. */
export interface BareFold {
  /** Takes one entry's fields (`type`, its name, `v`, its version, `data`, its JSON). */
  add(fields: Buffer[]): void;
  /** Throws unless the fold came out as the history says it must (so that it was not skipped). */
  check(): void;
}

/**
 * Reads the whole stream, the next batch already requested, and discards it (or hands each entry's
 * fields to `fold`: the bare fold); returns the entries read.
 */
export async function cheapestRead(
  redis: Redis,
  stream: string,
  batch = PROJECTION_BATCH_SIZE,
  fold?: BareFold,
): Promise<number> {
  type Batch = Array<[id: Buffer, fields: Buffer[]]>;
  const fetch = (after: string) =>
    redis.xrangeBuffer(stream, `(${after}`, '+', 'COUNT', batch) as unknown as Promise<Batch>;
  let read = 0;
  let next: Promise<Batch> | undefined = fetch(STREAM_START);
  while (next) {
    const entries: Batch = await next;
    const last = entries.at(-1);
    next = last && entries.length === batch ? fetch(last[0].toString('latin1')) : undefined;
    read += entries.length;
    if (fold) for (const [, fields] of entries) fold.add(fields);
    // As readBatches does (event-store.ts): a reply array left whole keeps its entries from dying young.
    entries.length = 0;
  }
  return read;
}

/**
 * The text of `name`'s value in an entry's `data` JSON, found by its place and not parsed (none of
 * the bank's values that this reads holds a quote or a comma): less than any decoder does.
 */
function valueIn(fields: Buffer[], name: string): string | undefined {
  for (let i = 0; i < fields.length - 1; i += 2) {
    if (fields[i]?.toString('latin1') !== 'data') continue;
    const data = fields[i + 1]?.toString('latin1') ?? '';
    const key = `"${name}":`;
    const at = data.indexOf(key);
    if (at < 0) return undefined;
    const from = at + key.length;
    if (data[from] === '"') return data.slice(from + 1, data.indexOf('"', from + 1));
    // Up to the next comma or brace, whichever comes first (not a copy of the rest to search).
    const comma = data.indexOf(',', from);
    const brace = data.indexOf('}', from);
    const end = comma < 0 ? brace : brace < 0 ? comma : Math.min(comma, brace);
    return data.slice(from, end < 0 ? undefined : end);
  }
  throw new Error('an entry with no data field');
}

/** The registry's bare fold: each registration's account found in its data and set in a Map. */
export function registryBareFold(expectAccounts: number): BareFold {
  // Nothing of the entry kept but the account: its fields would keep their reply's buffers alive.
  const accounts = new Map<string | undefined, true>();
  return {
    add(fields) {
      accounts.set(valueIn(fields, 'account'), true);
    },
    check() {
      if (accounts.size !== expectAccounts || accounts.has(undefined)) {
        throw new Error(`the bare fold found ${accounts.size} accounts, not ${expectAccounts}`);
      }
    },
  };
}

/** A ledger's bare fold: each entry's amount, where it has one, found in its data and summed. */
export function ledgerBareFold(expectEntries: number): BareFold {
  let entries = 0;
  let sum = 0;
  return {
    add(fields) {
      const amount = valueIn(fields, 'amount');
      if (amount !== undefined) sum += Number(amount);
      entries++;
    },
    check() {
      if (entries !== expectEntries || !(sum > 0) || !Number.isFinite(sum)) {
        throw new Error(`the bare fold took ${entries} entries (sum ${sum}), not ${expectEntries}`);
      }
    },
  };
}

/** Starts the registry projection as the services do, but without snapshots; ms until ready. */
export async function rebuildRegistry(redisUrl: string, expectAccounts: number): Promise<number> {
  const started = performance.now();
  const accounts = startAccountsProjection({ redisAt: redisUrl, log: silentLog, name: 'bench', snapshots: false });
  try {
    await accounts.projection.whenReady();
    const ms = performance.now() - started;
    if (accounts.registry.accounts.size !== expectAccounts) {
      throw new Error(`the rebuilt registry has ${accounts.registry.accounts.size} accounts, not ${expectAccounts}`);
    }
    return ms;
  } finally {
    await accounts.close();
  }
}

/** Starts `account`'s ledger projection as the account service does, but without snapshots; ms until ready. */
export async function rebuildLedger(redisUrl: string, account: string, expectEntries: number): Promise<number> {
  const started = performance.now();
  const ledger = startLedgerProjection({ redisAt: redisUrl, account, log: silentLog, snapshots: false });
  try {
    await ledger.projection.whenReady();
    const ms = performance.now() - started;
    if (ledger.ledger.events !== expectEntries) {
      throw new Error(`the rebuilt ledger folded ${ledger.ledger.events} entries, not ${expectEntries}`);
    }
    return ms;
  } finally {
    await ledger.close();
  }
}

/**
 * The cheapest read of `stream`, its bare fold (`bareFold` makes a fresh one) and `rebuild`, in
 * turn, `rounds` times after one unmeasured pass of each.
 */
export async function replayBench(
  redis: Redis,
  stream: string,
  what: Pick<ReplayFigures, 'projection' | 'history' | 'events'>,
  bareFold: () => BareFold,
  rebuild: () => Promise<number>,
  rounds: number,
): Promise<ReplayFigures> {
  const reads: number[] = [];
  const folds: number[] = [];
  const rebuilds: number[] = [];
  /** ms of one read of the whole stream, folded when given a fold. */
  const timedRead = async (fold?: BareFold) => {
    const started = performance.now();
    const read = await cheapestRead(redis, stream, PROJECTION_BATCH_SIZE, fold);
    const ms = performance.now() - started;
    if (read !== what.events) throw new Error(`read ${read} entries of ${stream}, not ${what.events}`);
    fold?.check();
    return ms;
  };
  // Unmeasured, so that the first measured pass does not pay for compiling the code.
  await timedRead();
  await timedRead(bareFold());
  await rebuild();
  for (let round = 0; round < rounds; round++) {
    reads.push(await timedRead());
    folds.push(await timedRead(bareFold()));
    rebuilds.push(await rebuild());
  }
  const cheapestReadMs = median(reads);
  const projectionMs = median(rebuilds);
  const bareFoldMs = median(folds);
  return {
    ...what,
    cheapestReadMs,
    projectionMs,
    ratio: projectionMs / cheapestReadMs,
    bareFoldMs,
    bareFoldRatio: bareFoldMs / cheapestReadMs,
  };
}
