/**
 * The steps that change an account's ledger, each one Lua script touching that account's keys
 * only (scripts/*.lua, KEYS and ARGV in their headers): open it, debit it, credit it, refund a
 * debit. The conditions (never below zero, each step of a transfer once, forever) are decided
 * inside the script, atomically with the append; here the events are prepared and the answers
 * read. Every function works on a single Redis and on a Redis Cluster alike.
 */
import {
  defineScript,
  encodeEvent,
  type LedgerEvent,
  ledgerEvents,
  ledgerKey,
  ledgerStateKey,
  ledgerStepsKey,
  type StreamId,
} from '@microbank/events';
import type { Cluster, Redis } from 'ioredis';

/** A single Redis or a Redis Cluster: the ledger's keys of one account always share a slot. */
export type RedisClient = Redis | Cluster;

type Scripted = {
  openLedger(stream: string, state: string, amount: number, data: string): Promise<[string, string]>;
  debitLedger(...args: Array<string | number>): Promise<[string, string]>;
  creditLedger(...args: Array<string | number>): Promise<[string, string]>;
  refundLedger(...args: Array<string | number>): Promise<[string, string]>;
};

function scripted(redis: RedisClient): Scripted {
  defineScript(redis, 'openLedger', 'open-ledger-2.lua', import.meta.url);
  defineScript(redis, 'debitLedger', 'debit-3.lua', import.meta.url);
  defineScript(redis, 'creditLedger', 'credit-3.lua', import.meta.url);
  defineScript(redis, 'refundLedger', 'refund-3.lua', import.meta.url);
  return redis as unknown as Scripted;
}

/** The event's `data` as the stream stores it. */
function dataOf(event: LedgerEvent): string {
  return encodeEvent(ledgerEvents, event)[5] as string;
}

const keysOf = (account: string, prefix?: string) => [
  ledgerKey(account, prefix),
  ledgerStateKey(account, prefix),
  ledgerStepsKey(account, prefix),
];

export interface Transfer {
  transfer: string;
  from: string;
  to: string;
  amount: number;
}

/** A step's outcome and whether it was decided now or earlier (a step tried again). */
export interface StepResult<Outcome> {
  outcome: Outcome;
  repeated: boolean;
}

/** Opens `account`'s ledger with `amount`, once; resolves to the opening's position. */
export async function openLedger(
  redis: RedisClient,
  account: string,
  amount: number,
  prefix?: string,
): Promise<StepResult<{ position: StreamId }>> {
  const [stream, state] = keysOf(account, prefix) as [string, string];
  const data = dataOf({ type: 'AccountOpened', data: { account, amount } });
  const [kind, position] = await scripted(redis).openLedger(stream, state, amount, data);
  return { outcome: { position }, repeated: kind === 'repeat' };
}

export type DebitOutcome =
  | { kind: 'debited'; position: StreamId }
  | { kind: 'declined'; position: StreamId; reason: 'insufficient-funds' }
  | { kind: 'refused'; reason: 'unknown-account' };

export async function debit(redis: RedisClient, t: Transfer, prefix?: string): Promise<StepResult<DebitOutcome>> {
  const debited = dataOf({ type: 'Debited', data: { transfer: t.transfer, to: t.to, amount: t.amount } });
  const declined = dataOf({
    type: 'DebitDeclined',
    data: { transfer: t.transfer, to: t.to, amount: t.amount, reason: 'insufficient-funds' },
  });
  const [kind, outcome] = await scripted(redis).debitLedger(
    ...keysOf(t.from, prefix),
    t.transfer,
    t.amount,
    debited,
    declined,
  );
  const [what, position] = outcome.split(' ') as [string, string];
  const result: DebitOutcome =
    what === 'debited'
      ? { kind: 'debited', position }
      : what === 'declined'
        ? { kind: 'declined', position, reason: 'insufficient-funds' }
        : { kind: 'refused', reason: 'unknown-account' };
  return { outcome: result, repeated: kind === 'repeat' };
}

export type CreditOutcome = { kind: 'credited'; position: StreamId } | { kind: 'refused'; reason: 'unknown-account' };

/** Credits `t.to` for a transfer whose debit is at `debitPosition` on `t.from`'s ledger. */
export async function credit(
  redis: RedisClient,
  t: Transfer,
  debitPosition: StreamId,
  prefix?: string,
): Promise<StepResult<CreditOutcome>> {
  const credited = dataOf({
    type: 'Credited',
    data: { transfer: t.transfer, from: t.from, amount: t.amount, debit: debitPosition },
  });
  const [kind, outcome] = await scripted(redis).creditLedger(...keysOf(t.to, prefix), t.transfer, t.amount, credited);
  const [what, position] = outcome.split(' ') as [string, string];
  const result: CreditOutcome =
    what === 'credited' ? { kind: 'credited', position } : { kind: 'refused', reason: 'unknown-account' };
  return { outcome: result, repeated: kind === 'repeat' };
}

/** Gives `t.from` back the debit whose credit was refused; resolves to the refund's position. */
export async function refund(redis: RedisClient, t: Transfer, prefix?: string): Promise<StepResult<StreamId>> {
  const refunded = dataOf({
    type: 'Refunded',
    data: { transfer: t.transfer, to: t.to, amount: t.amount, reason: 'unknown-account' },
  });
  const [kind, outcome] = await scripted(redis).refundLedger(...keysOf(t.from, prefix), t.transfer, t.amount, refunded);
  const [what, position] = outcome.split(' ') as [string, string];
  if (what !== 'refunded') throw new Error(`refund of ${t.transfer} refused by ${t.from}'s ledger: ${outcome}`);
  return { outcome: position, repeated: kind === 'repeat' };
}
