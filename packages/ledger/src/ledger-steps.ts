/**
 * The steps that change an account's ledger, each one Lua script touching that account's keys
 * only (scripts/*.lua, KEYS and ARGV in their headers): open it, issue money into it, debit it,
 * credit it, refund a debit; and record an issuance on the supply stream. The conditions (never below zero, each step once, forever, entries
 * numbered without a gap) are decided inside the script, atomically with the append, from checked
 * arguments only: the scripts build the events themselves. Here the arguments are passed and the
 * answers read. ledger-decider.ts states the same rules in TypeScript, and ledger-decider.test.ts
 * holds the two equal. Every function works on a single Redis and on a Redis Cluster alike.
 */

import {
  COMPACTED_BEFORE,
  ledgerKey,
  ledgerStateKey,
  ledgerStepsKey,
  supplyIssuancesKey,
  supplyKey,
} from '@microbank/events';
import { confirmedWrite, defineScript, type RedisClient, type StreamId } from '@microbank/streams';

export type { RedisClient };

type Reply = Promise<[string, string]>;
/** The ledger scripts, by the command each is defined under. */
type Scripted = Record<
  'openLedger' | 'issueLedger' | 'debitLedger' | 'creditLedger' | 'refundLedger' | 'recordIssuance',
  (...args: string[]) => Reply
>;

/**
 * Defines `file` on `redis` under `command`, preceded by the checks every ledger script shares
 * (scripts/ledger-checks.lua), once per connection.
 */
export function defineLedgerScript(redis: RedisClient, command: string, file: string): void {
  defineScript(redis, command, file, import.meta.url, 'ledger-checks.lua');
}

/**
 * Runs a ledger script as a confirmed write (confirmedWrite): when the connection's writes are
 * confirmed by replicas, its outcome is answered only once they hold it, else Unconfirmed is
 * thrown; that is true of a step made before (a repeat, which writes nothing) too. Every step goes
 * this way: a saga takes its next step only after this one is confirmed.
 */
function run(redis: RedisClient, script: keyof Scripted, ...args: string[]): Reply {
  defineLedgerScript(redis, 'openLedger', 'open-ledger-2.lua');
  defineLedgerScript(redis, 'issueLedger', 'issue-3.lua');
  defineLedgerScript(redis, 'debitLedger', 'debit-3.lua');
  defineLedgerScript(redis, 'creditLedger', 'credit-3.lua');
  defineLedgerScript(redis, 'refundLedger', 'refund-3.lua');
  defineLedgerScript(redis, 'recordIssuance', 'record-issuance-2.lua');
  return confirmedWrite(redis, args[0] ?? '', (pipeline) => {
    (pipeline as unknown as Record<keyof Scripted, (...a: string[]) => unknown>)[script](...args);
  });
}

const keysOf = (account: string, prefix?: string) => [
  ledgerKey(account, prefix),
  ledgerStateKey(account, prefix),
  ledgerStepsKey(account, prefix),
];

/** A number as the scripts read it: JSON's digits (a fraction or an exponent is refused by them). */
const text = (amount: number) => String(amount);

export interface Transfer {
  transfer: string;
  from: string;
  to: string;
  amount: number;
  /**
   * Where its TransferRequested is on the transfers stream. A step of a transfer requested before
   * the compaction point is refused ('compacted'); without a position, every step is, once a
   * compaction happened. The saga always gives it.
   */
  requested?: StreamId;
}

/** A step's outcome and whether it was decided now or earlier (a step tried again). */
export interface StepResult<Outcome> {
  outcome: Outcome;
  repeated: boolean;
}

/**
 * Opens `account`'s ledger, once (AccountOpened v2: no money; the bank issues it, issueSupply);
 * resolves to the opening's position.
 */
export async function openLedger(
  redis: RedisClient,
  account: string,
  prefix?: string,
): Promise<StepResult<{ position: StreamId }>> {
  const [stream, state] = keysOf(account, prefix) as [string, string];
  const [kind, position] = await run(redis, 'openLedger', stream, state, account);
  return { outcome: { position }, repeated: kind === 'repeat' };
}

/** The ID of an account's opening issuance (see parseIssuance). */
export const openingIssuance = (account: string) => `opening:${account}`;

/** Money the bank issues into one account, under an ID that makes it happen once. */
export interface Issuance {
  issuance: string;
  account: string;
  amount: number;
}

/** An issuance tried again with another account or amount than it was made with: it stands as first made. */
export class IssuanceChangedError extends Error {
  constructor(issuance: string, was: string) {
    super(`issuance ${issuance} cannot be changed: it was made as ${was}`);
    this.name = 'IssuanceChangedError';
  }
}

/**
 * Issues `i.amount` into `i.account`'s ledger (Issued), once per issuance ID, opening the ledger
 * first if it is not open; resolves to the Issued entry's position. The issuance must be recorded
 * on the supply stream first (issueSupply does both).
 */
export async function issue(redis: RedisClient, i: Issuance, prefix?: string): Promise<StepResult<StreamId>> {
  const [kind, outcome] = await run(
    redis,
    'issueLedger',
    ...keysOf(i.account, prefix),
    i.issuance,
    i.account,
    text(i.amount),
  );
  if (kind === 'changed') throw new IssuanceChangedError(i.issuance, `"${outcome}" on ${i.account}'s ledger`);
  const [, position] = outcome.split(' ') as [string, string];
  return { outcome: position, repeated: kind === 'repeat' };
}

/** Records `i` on the supply stream (SupplyIssued), once; resolves to its position there. */
export async function recordIssuance(redis: RedisClient, i: Issuance, prefix?: string): Promise<StepResult<StreamId>> {
  const [kind, outcome] = await run(
    redis,
    'recordIssuance',
    supplyKey(prefix),
    supplyIssuancesKey(prefix),
    i.issuance,
    i.account,
    text(i.amount),
  );
  if (kind === 'changed') {
    const [account, amount] = outcome.split(' ');
    throw new IssuanceChangedError(i.issuance, `${amount} into ${account} on the supply stream`);
  }
  return { outcome, repeated: kind === 'repeat' };
}

/** Why a ledger refused a step without writing: no such ledger, or a transfer behind the compaction point. */
export type StepRefusal = 'unknown-account' | 'compacted';

const refusalOf = (outcome: string): StepRefusal => (outcome === 'refused compacted' ? 'compacted' : 'unknown-account');

export type DebitOutcome =
  | { kind: 'debited'; position: StreamId }
  | { kind: 'declined'; position: StreamId; reason: 'insufficient-funds' }
  | { kind: 'refused'; reason: StepRefusal };

/**
 * Runs a transfer's step on one of its two ledgers (`t.from`'s or `t.to`'s, the other account named as
 * the counterpart), with `more` arguments before the requested time; the script's outcome, its first
 * word and the position after it, and whether the step was already made.
 */
async function transferStep(
  redis: RedisClient,
  step: 'debitLedger' | 'creditLedger' | 'refundLedger',
  t: Transfer,
  on: 'from' | 'to',
  prefix: string | undefined,
  ...more: string[]
) {
  const [kind, outcome] = await run(
    redis,
    step,
    ...keysOf(t[on], prefix),
    t.transfer,
    on === 'from' ? t.to : t.from,
    text(t.amount),
    ...more,
    t.requested ?? '',
  );
  const [what, position] = outcome.split(' ') as [string, string];
  return { outcome, what, position, repeated: kind === 'repeat' };
}

export async function debit(redis: RedisClient, t: Transfer, prefix?: string): Promise<StepResult<DebitOutcome>> {
  const { outcome, what, position, repeated } = await transferStep(redis, 'debitLedger', t, 'from', prefix);
  const result: DebitOutcome =
    what === 'debited'
      ? { kind: 'debited', position }
      : what === 'declined'
        ? { kind: 'declined', position, reason: 'insufficient-funds' }
        : { kind: 'refused', reason: refusalOf(outcome) };
  return { outcome: result, repeated };
}

export type CreditOutcome = { kind: 'credited'; position: StreamId } | { kind: 'refused'; reason: StepRefusal };

/** Credits `t.to` for a transfer whose debit is at `debitPosition` on `t.from`'s ledger. */
export async function credit(
  redis: RedisClient,
  t: Transfer,
  debitPosition: StreamId,
  prefix?: string,
): Promise<StepResult<CreditOutcome>> {
  const { outcome, what, position, repeated } = await transferStep(
    redis,
    'creditLedger',
    t,
    'to',
    prefix,
    debitPosition,
  );
  const result: CreditOutcome =
    what === 'credited' ? { kind: 'credited', position } : { kind: 'refused', reason: refusalOf(outcome) };
  return { outcome: result, repeated };
}

/** Gives `t.from` back the debit whose credit was refused; resolves to the refund's position. */
export async function refund(redis: RedisClient, t: Transfer, prefix?: string): Promise<StepResult<StreamId>> {
  const { outcome, what, position, repeated } = await transferStep(redis, 'refundLedger', t, 'from', prefix);
  if (what !== 'refunded') throw new Error(`refund of ${t.transfer} refused by ${t.from}'s ledger: ${outcome}`);
  return { outcome: position, repeated };
}

/** What a step's outcome says was appended: an entry of `type` at `entry`, for `subject` (and of `amount`). */
export interface StepEntry {
  type: 'Debited' | 'DebitDeclined' | 'Credited' | 'Refunded' | 'Issued';
  entry: StreamId;
  amount?: number;
}

const STEP_KINDS: Record<string, Record<string, StepEntry['type']>> = {
  debit: { debited: 'Debited', declined: 'DebitDeclined' },
  credit: { credited: 'Credited' },
  refund: { refunded: 'Refunded' },
  issue: { issued: 'Issued' },
};

/**
 * The entry a step (`debit:<transfer>` -> `debited <entry ID> <amount>`, ...) says it appended;
 * null for a step that appended nothing (`refused ...`); undefined for what no script writes.
 */
export function stepEntry(field: string, outcome: string): StepEntry | null | undefined {
  if (field === COMPACTED_BEFORE) return /^\d+-\d+$/.test(outcome) ? null : undefined;
  const colon = field.indexOf(':');
  const kinds = STEP_KINDS[field.slice(0, colon)];
  if (colon < 1 || !kinds) return undefined;
  const [word = '', entry = '', amount, ...rest] = outcome.split(' ');
  if (word === 'refused' && (field.startsWith('debit:') || field.startsWith('credit:'))) return null;
  const type = kinds[word];
  if (!type || rest.length > 0 || !/^\d+-\d+$/.test(entry)) return undefined;
  const withAmount = type === 'Debited' || type === 'Issued';
  if (withAmount !== (amount !== undefined) || (amount !== undefined && !/^[1-9]\d*$/.test(amount))) return undefined;
  return amount === undefined ? { type, entry } : { type, entry, amount: Number(amount) };
}
