/**
 * One account's ledger as a projection: replay then tail, from a signed snapshot when there is a
 * good one (as the registry does). The account's GET /balance answers from it.
 */
import {
  decodeLedgerEntry,
  type LedgerEvent,
  type Log,
  ledgerKey,
  type Projection,
  type SnapshotSetting,
  startStateProjection,
} from '@microbank/events';
import type { Redis } from 'ioredis';
import { emptyLedger, evolveLedger, type Ledger } from './ledger.ts';

/** The format of a ledger's snapshot: bump it whenever Ledger or evolveLedger changes meaning. */
const LEDGER_SNAPSHOT_FORMAT = 1;

export interface LedgerProjection {
  ledger: Ledger;
  projection: Projection;
  redis: Redis;
  close(): Promise<void>;
}

export interface LedgerProjectionOptions {
  redisUrl: string;
  account: string;
  log: Log;
  /** Sign snapshots with `secret` and start from them; or always replay (false). */
  snapshots: SnapshotSetting;
  prefix?: string;
}

function ledgerSnapshotState(ledger: Ledger): string {
  return JSON.stringify([ledger.opened, ledger.balance, ledger.lowest, ledger.events]);
}

/** Replaces `ledger` with a snapshot's state; throws, changing nothing, when the state does not read. */
function restoreLedger(ledger: Ledger, state: string): void {
  const row: unknown = JSON.parse(state);
  if (!Array.isArray(row) || row.length !== 4) throw new Error('the state is not [opened, balance, lowest, events]');
  const [opened, balance, lowest, events] = row as unknown[];
  if (typeof opened !== 'boolean') throw new Error('opened is not a boolean');
  for (const [what, value] of [
    ['balance', balance],
    ['lowest', lowest],
    ['events', events],
  ] as const) {
    if (!Number.isSafeInteger(value)) throw new Error(`${what} is not a whole number`);
  }
  if ((events as number) < 0 || (lowest as number) > (balance as number)) throw new Error('the numbers do not fit');
  Object.assign(ledger, { opened, balance, lowest, events });
}

export function startLedgerProjection(options: LedgerProjectionOptions): LedgerProjection {
  const { account, prefix } = options;
  const ledger = emptyLedger();
  const state = startStateProjection<LedgerEvent>({
    ...options,
    name: `${account}:ledger`,
    stream: ledgerKey(account, prefix),
    decode: decodeLedgerEntry,
    apply: (event, id) => evolveLedger(ledger, event, id),
    snapshot: {
      kind: 'ledger',
      format: LEDGER_SNAPSHOT_FORMAT,
      capture: () => ledgerSnapshotState(ledger),
      restore: (stored) => restoreLedger(ledger, stored),
    },
  });
  return { ledger, ...state };
}
