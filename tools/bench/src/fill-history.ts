/** Fills streams for the bench: a history of registrations, or a busy account's ledger. */
import { type AccountRegistered, accountEvents, type LedgerEvent, ledgerEvents } from '@microbank/events';
import { encodeEvent } from '@microbank/streams';
import type { ChainableCommander, Redis } from 'ioredis';

export interface History {
  /** How tables and --sizes name it: 10k, 100k, 1M, 10M. */
  name: string;
  /** Registrations on the stream. */
  events: number;
  /** Distinct accounts they name; registration n is by account n mod accounts. */
  accounts: number;
}

/**
 * The histories the issue asks for. 10M is two accounts restarted five million times each: the
 * stream a long-lived cluster grows, which snapshots keep cheap to recover.
 */
export const HISTORIES: readonly History[] = [
  { name: '10k', events: 10_000, accounts: 2 },
  { name: '100k', events: 100_000, accounts: 1_000 },
  { name: '1M', events: 1_000_000, accounts: 100_000 },
  { name: '10M', events: 10_000_000, accounts: 2 },
];

/** The seed's two accounts when there are two, numbered accounts otherwise. */
export function accountName(index: number, accounts: number): string {
  if (accounts === 2) return index === 0 ? 'john-account' : 'mary-account';
  return `account-${index}`;
}

/** Registration n of a history, as an account's start would write it (every field valid). */
export function registration(n: number, accounts: number): AccountRegistered {
  const account = accountName(n % accounts, accounts);
  return {
    type: 'AccountRegistered',
    data: {
      account,
      url: `http://microbank-${account}`,
      instance: `microbank-${account}-5d9f8-${(n % 100_000).toString(36)}`,
      registeredAt: new Date(1_780_000_000_000 + n * 1000).toISOString(),
    },
  };
}

/** Appends the history of registrations to `stream`. */
export async function fillHistory(
  redis: Redis,
  stream: string,
  { events, accounts }: Pick<History, 'events' | 'accounts'>,
  onProgress: (written: number) => void = () => {},
): Promise<void> {
  await fillChunked(
    redis,
    events,
    (pipeline, n) => pipeline.xadd(stream, '*', ...encodeEvent(accountEvents, registration(n, accounts))),
    onProgress,
  );
}

/**
 * Runs `command` for n = 0 .. count-1 in pipelined chunks, one chunk outstanding at a time so Redis's
 * reply buffer stays small. `onProgress` gets the number written so far after each chunk.
 */
async function fillChunked(
  redis: Redis,
  count: number,
  command: (pipeline: ChainableCommander, n: number) => void,
  onProgress: (written: number) => void,
): Promise<void> {
  const chunk = 20_000;
  for (let written = 0; written < count; ) {
    const pipeline = redis.pipeline();
    const end = Math.min(written + chunk, count);
    for (let n = written; n < end; n++) command(pipeline, n);
    const results = await pipeline.exec();
    const failed = results?.find(([error]) => error);
    if (failed) throw failed[0];
    written = end;
    onProgress(written);
  }
}

/** A transfer ID for entry n: a valid version-4 UUID, different for every n. */
function transferIdOf(n: number): string {
  return `00000000-0000-4000-8000-${n.toString(16).padStart(12, '0')}`;
}

/**
 * Entry n of a busy ledger (john-account's), numbered (seq n + 1) and laid out as the ledger scripts
 * write it now (every field valid, in their order): opened, a large opening issuance from the bank, then
 * debits to and credits from mary-account in turn.
 */
function ledgerEntry(n: number): LedgerEvent {
  const seq = n + 1;
  if (n === 0) return { type: 'AccountOpened', data: { account: 'john-account', seq } };
  if (n === 1) return { type: 'Issued', data: { issuance: 'opening:john-account', amount: 1_000_000_000, seq } };
  const transfer = transferIdOf(n);
  const amount = 1 + (n % 500);
  if (n % 2 === 1) return { type: 'Debited', data: { transfer, to: 'mary-account', amount, seq } };
  return {
    type: 'Credited',
    data: { transfer, from: 'mary-account', amount, debit: `${1_780_000_000_000 + n}-0`, seq },
  };
}

/** Appends `entries` ledger entries (ledgerEntry 0, 1, ...) to `stream`, as fillHistory does. */
export async function fillLedger(
  redis: Redis,
  stream: string,
  entries: number,
  onProgress: (written: number) => void = () => {},
): Promise<void> {
  await fillChunked(
    redis,
    entries,
    (pipeline, n) => pipeline.xadd(stream, '*', ...encodeEvent(ledgerEvents, ledgerEntry(n))),
    onProgress,
  );
}
