/**
 * One account's ledger as a projection: replay then tail, from a signed snapshot when there is a
 * good one (as the registry does). The account's GET /balance answers from it.
 */

import { decodeLedgerEntry, type LedgerEvent, ledgerKey } from '@microbank/events';
import {
  type Log,
  type Projection,
  type RedisAt,
  type RedisClient,
  type SnapshotSetting,
  startStateProjection,
} from '@microbank/streams';
import { emptyLedger, evolveLedger, type Ledger } from './ledger.ts';

/**
 * The format of a ledger's snapshot: bump it whenever Ledger or evolveLedger changes meaning.
 * 3: after numbered entries, an unnumbered (forged) one no longer moves seq, as in the scripts.
 */
const LEDGER_SNAPSHOT_FORMAT = 3;

/** How a ledger's fold is kept in a snapshot: as one JSON row (ledgerSnapshotState), read back whole or not at all. */
const ledgerSnapshot = (ledger: Ledger) => ({
  kind: 'ledger',
  format: LEDGER_SNAPSHOT_FORMAT,
  capture: () => ledgerSnapshotState(ledger),
  restore: (stored: string) => restoreLedger(ledger, stored),
});

export interface LedgerProjection {
  ledger: Ledger;
  projection: Projection;
  redis: RedisClient;
  close(): Promise<void>;
}

export interface LedgerProjectionOptions {
  redisAt: RedisAt;
  account: string;
  log: Log;
  /** Sign snapshots with `secret` and start from them; or always replay (false). */
  snapshots: SnapshotSetting;
  prefix?: string;
  /** After a tail read that brought entries, how long to wait before the next (LEDGER_LINGER_MS by default). */
  lingerMs?: number;
}

/**
 * How long an account's projection of its own ledger waits after a read that brought entries. An
 * account of a busy bank takes part in hundreds of transfers a second, and each read costs its
 * process and Redis a round trip: read in batches, they cost a fraction. A balance asked for
 * without a position is at most this much older; one that names a position ends the wait.
 */
export const LEDGER_LINGER_MS = 100;

const NUMBERS = ['balance', 'lowest', 'issued', 'seq', 'gaps', 'events'] as const;

function ledgerSnapshotState(ledger: Ledger): string {
  return JSON.stringify([ledger.opened, ledger.numbered, ...NUMBERS.map((name) => ledger[name])]);
}

/** Replaces `ledger` with a snapshot's state; throws, changing nothing, when the state does not read. */
function restoreLedger(ledger: Ledger, state: string): void {
  const row: unknown = JSON.parse(state);
  if (!Array.isArray(row) || row.length !== 2 + NUMBERS.length) {
    throw new Error(`the state is not [opened, numbered, ${NUMBERS.join(', ')}]`);
  }
  const [opened, numbered, ...values] = row as unknown[];
  if (typeof opened !== 'boolean' || typeof numbered !== 'boolean')
    throw new Error('opened or numbered is not a boolean');
  const numbers: Partial<Record<(typeof NUMBERS)[number], number>> = {};
  for (const [i, name] of NUMBERS.entries()) {
    const value = values[i];
    if (!Number.isSafeInteger(value)) throw new Error(`${name} is not a whole number`);
    numbers[name] = value as number;
  }
  const { balance = 0, lowest = 0, issued = 0, seq = 0, gaps = 0, events = 0 } = numbers;
  if (events < 0 || seq < 0 || gaps < 0 || issued < 0 || lowest > balance || lowest > 0) {
    throw new Error('the numbers do not fit');
  }
  Object.assign(ledger, { opened, numbered, balance, lowest, issued, seq, gaps, events });
}

export function startLedgerProjection(options: LedgerProjectionOptions): LedgerProjection {
  const { account, prefix } = options;
  const ledger = emptyLedger();
  const state = startStateProjection<LedgerEvent>({
    ...options,
    name: `${account}:ledger`,
    streams: [ledgerKey(account, prefix)],
    lingerMs: options.lingerMs ?? LEDGER_LINGER_MS,
    decode: decodeLedgerEntry,
    apply: (event, id) => evolveLedger(ledger, event, id),
    snapshot: ledgerSnapshot(ledger),
  });
  return { ledger, ...state };
}
