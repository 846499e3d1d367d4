/**
 * `replay`: rebuilding a projection from scratch (the registry from the accounts stream, a ledger
 * from its stream), next to the cheapest read this client can do of the same entries in the same
 * process: buffer replies, the projection's batch size, the next batch requested before the current
 * one is looked at, every entry discarded. Run after run in turn, so their ratio holds on a noisy machine.
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
}

/** Reads the whole stream and discards it, the next batch already requested; returns the entries read. */
export async function cheapestRead(redis: Redis, stream: string, batch = PROJECTION_BATCH_SIZE): Promise<number> {
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
  }
  return read;
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

/** The cheapest read of `stream` and `rebuild`, in turn, `rounds` times after one unmeasured pass of each. */
export async function replayBench(
  redis: Redis,
  stream: string,
  what: Pick<ReplayFigures, 'projection' | 'history' | 'events'>,
  rebuild: () => Promise<number>,
  rounds: number,
): Promise<ReplayFigures> {
  const reads: number[] = [];
  const rebuilds: number[] = [];
  // Unmeasured, so that the first measured pass does not pay for compiling the code.
  await cheapestRead(redis, stream);
  await rebuild();
  for (let round = 0; round < rounds; round++) {
    const started = performance.now();
    const read = await cheapestRead(redis, stream);
    reads.push(performance.now() - started);
    if (read !== what.events) throw new Error(`read ${read} entries of ${stream}, not ${what.events}`);
    rebuilds.push(await rebuild());
  }
  const cheapestReadMs = median(reads);
  const projectionMs = median(rebuilds);
  return { ...what, cheapestReadMs, projectionMs, ratio: projectionMs / cheapestReadMs };
}
