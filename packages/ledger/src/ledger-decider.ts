/**
 * A ledger's rules in one place, pure: `decideLedger(state, command)` says what a step of one
 * account's ledger appends (or why it refuses), `evolveLedger` (ledger.ts) is the fold of what it
 * appended, and `applyDecision` keeps a decision as the scripts do (the events folded, the step
 * recorded for good). The Lua scripts (scripts/*.lua, run by ledger-steps.ts) decide the same
 * thing atomically on Redis, which is what the bank runs; ledger-decider.test.ts runs random
 * commands through both and holds them equal, outcome by outcome, event by event.
 */
import { ACCOUNT_NAME_PATTERN, ISSUANCE_ID_PATTERN, type LedgerEvent, MAX_AMOUNT, transferId } from '@microbank/events';
import type { StreamId } from '@microbank/streams';
import { emptyLedger, evolveLedger, type Ledger } from './ledger.ts';

/** The commands of one account's ledger, with the arguments its scripts take. */
export type LedgerCommand =
  | { type: 'open'; account: string }
  | { type: 'issue'; issuance: string; account: string; amount: number }
  | { type: 'debit'; transfer: string; to: string; amount: number; requested?: StreamId }
  | { type: 'credit'; transfer: string; from: string; amount: number; debit: StreamId; requested?: StreamId }
  | { type: 'refund'; transfer: string; to: string; amount: number; requested?: StreamId };

/** What a step decided, as the first word(s) of its script's outcome. */
export type LedgerOutcome =
  | 'opened'
  | 'issued'
  | 'debited'
  | 'declined'
  | 'credited'
  | 'refunded'
  | 'refused unknown-account'
  | 'refused compacted'
  | 'refused no-debit'
  | 'refused amount-mismatch';

/** A step kept for good in the ledger's steps hash (`debit:<transfer>` -> its outcome, and its amount when it moved one). */
export interface KeptStep {
  outcome: LedgerOutcome;
  amount?: number;
}

export interface LedgerState {
  /** The account whose ledger this is (its keys name it). */
  account: string;
  /** The fold of its events. */
  ledger: Ledger;
  /** What its steps hash keeps: every step decided for good. */
  steps: Map<string, KeptStep>;
  /** The transfers stream's compaction point (`compacted-before` in the steps hash), if compacted. */
  compactedBefore?: StreamId;
}

export type LedgerDecision =
  /** Decided now: append `events` (maybe none), and keep `step` for good when there is one. */
  | { kind: 'new'; outcome: LedgerOutcome; events: LedgerEvent[]; step?: { name: string; kept: KeptStep } }
  /** Decided before: its first outcome, nothing appended. */
  | { kind: 'repeat'; outcome: LedgerOutcome }
  /** An issuance made here with another amount: it stands as made, nothing appended. */
  | { kind: 'changed'; outcome: LedgerOutcome }
  /** Arguments no step takes: the script fails with this message, nothing written. */
  | { kind: 'invalid'; reason: string };

export const emptyLedgerState = (account: string): LedgerState => ({
  account,
  ledger: emptyLedger(),
  steps: new Map(),
});

// The limits and checks of ledger-checks.lua.
const MAX_WHOLE = Number.MAX_SAFE_INTEGER;
const MAX_DATA_BYTES = 1024;
/** The transfer ID's schema pattern (z.uuid(): versions 1-8, variant 8-b, or the nil and max UUIDs), as the scripts check it. */
const UUID = transferId._zod.def.pattern as RegExp;
const ENTRY_ID = /^\d+-\d+$/;

class Invalid extends Error {}
const fail = (reason: string): never => {
  throw new Invalid(reason);
};

/** The amount as the scripts read it (String(amount), as ledger-steps.ts passes it). */
function checkAmount(amount: number): number {
  const text = String(amount);
  if (text.length > 13 || !/^[1-9]\d*$/.test(text) || amount > MAX_AMOUNT) {
    fail(`the amount must be a whole number from 1 to 10^12, got "${text.slice(0, 20)}"`);
  }
  return amount;
}
function checkTransfer(id: string): string {
  if (!UUID.test(id)) fail('the transfer ID must be a UUID');
  return id;
}
function checkAccount(name: string, what: string): string {
  if (!ACCOUNT_NAME_PATTERN.test(name)) fail(`${what} must be an account name (a DNS label)`);
  return name;
}
function checkIssuance(id: string): string {
  if (id.length < 1 || id.length > 80 || !ISSUANCE_ID_PATTERN.test(id)) {
    fail('the issuance ID must be 1 to 80 of A-Z, a-z, 0-9 and "._:-"');
  }
  return id;
}
function checkEntryId(id: string): string {
  if (id.length > 41 || !ENTRY_ID.test(id)) fail('the debit must be a stream entry ID');
  return id;
}
function checkRequest(id: string): string {
  if (id !== '' && (id.length > 41 || !ENTRY_ID.test(id))) fail('the request position must be a stream entry ID');
  return id;
}
/** The balance after adding `amount`, refused past 2^53 - 1. */
function raised(balance: number, amount: number): number {
  if (balance + amount > MAX_WHOLE) fail('the balance would pass 2^53 - 1');
  return balance + amount;
}
/** The event, refused when its data is over the scripts' limit. */
function sized<E extends LedgerEvent>(event: E): E {
  if (JSON.stringify(event.data).length > MAX_DATA_BYTES) fail(`the event data is over ${MAX_DATA_BYTES} bytes`);
  return event;
}

/** Whether a step of a transfer requested at `request` is behind the compaction point (none given: it is, once there is one). */
function behindCompaction(state: LedgerState, request: string): boolean {
  const point = state.compactedBefore;
  if (point === undefined) return false;
  if (request === '') return true;
  const [pms, pseq] = point.split('-').map(Number) as [number, number];
  const [rms, rseq] = request.split('-').map(Number) as [number, number];
  return rms < pms || (rms === pms && rseq < pseq);
}

/**
 * What every step of a transfer (debit, credit, refund) checks first, in the scripts' order: the
 * transfer, the other account, not this one, the amount, the request's position; then a step
 * decided before answers its first outcome, and one behind the compaction point is refused.
 */
function transferStep(
  state: LedgerState,
  command: Extract<LedgerCommand, { type: 'debit' | 'credit' | 'refund' }>,
): { name: string; decided?: LedgerDecision } {
  const { type: kind, transfer, amount, requested } = command;
  const [party, other] =
    command.type === 'credit' ? [command.from, 'the account debited'] : [command.to, 'the account credited'];
  checkTransfer(transfer);
  checkAccount(party, other);
  if (party === state.account) fail('a transfer cannot debit and credit the same account');
  checkAmount(amount);
  const request = checkRequest(requested ?? '');
  const name = `${kind}:${transfer}`;
  const prior = state.steps.get(name);
  if (prior) return { name, decided: { kind: 'repeat', outcome: prior.outcome } };
  if (behindCompaction(state, request))
    return { name, decided: { kind: 'new', outcome: 'refused compacted', events: [] } };
  return { name };
}

/** Decides `command` on the ledger in `state`: pure, nothing changed (applyDecision keeps it). */
export function decideLedger(state: LedgerState, command: LedgerCommand): LedgerDecision {
  try {
    return decide(state, command);
  } catch (error) {
    if (error instanceof Invalid) return { kind: 'invalid', reason: error.message };
    throw error;
  }
}

function decide(state: LedgerState, command: LedgerCommand): LedgerDecision {
  const { ledger, account } = state;
  const seq = ledger.seq + 1;
  switch (command.type) {
    case 'open': {
      if (command.account !== account) fail("the account is not the ledger's");
      if (ledger.opened) return { kind: 'repeat', outcome: 'opened' };
      return { kind: 'new', outcome: 'opened', events: [sized({ type: 'AccountOpened', data: { account, seq: 1 } })] };
    }
    case 'issue': {
      const issuance = checkIssuance(command.issuance);
      if (command.account !== account) fail("the account is not the ledger's");
      const amount = checkAmount(command.amount);
      const name = `issue:${issuance}`;
      const prior = state.steps.get(name);
      if (prior) return { kind: prior.amount === amount ? 'repeat' : 'changed', outcome: prior.outcome };
      raised(ledger.balance, amount);
      const events: LedgerEvent[] = [];
      if (!ledger.opened) events.push(sized({ type: 'AccountOpened', data: { account, seq: 1 } }));
      const issued = sized({ type: 'Issued', data: { issuance, amount, seq: ledger.opened ? seq : 2 } } as const);
      events.push(issued);
      return { kind: 'new', outcome: 'issued', events, step: { name, kept: { outcome: 'issued', amount } } };
    }
    case 'debit': {
      const { transfer, to, amount } = command;
      const { name, decided } = transferStep(state, command);
      if (decided) return decided;
      if (!ledger.opened) return refusedUnknown(name);
      if (ledger.balance < amount) {
        const data = { transfer, to, amount, reason: 'insufficient-funds' as const, seq };
        const event = sized({ type: 'DebitDeclined', data } as const);
        return { kind: 'new', outcome: 'declined', events: [event], step: { name, kept: { outcome: 'declined' } } };
      }
      const event = sized({ type: 'Debited', data: { transfer, to, amount, seq } } as const);
      return { kind: 'new', outcome: 'debited', events: [event], step: { name, kept: { outcome: 'debited', amount } } };
    }
    case 'credit': {
      const { transfer, from, amount } = command;
      const debit = checkEntryId(command.debit);
      const { name, decided } = transferStep(state, command);
      if (decided) return decided;
      if (!ledger.opened) return refusedUnknown(name);
      raised(ledger.balance, amount);
      const event = sized({ type: 'Credited', data: { transfer, from, amount, debit, seq } } as const);
      return { kind: 'new', outcome: 'credited', events: [event], step: { name, kept: { outcome: 'credited' } } };
    }
    case 'refund': {
      const { transfer, to, amount } = command;
      const { name, decided } = transferStep(state, command);
      if (decided) return decided;
      const debited = state.steps.get(`debit:${transfer}`);
      if (debited?.outcome !== 'debited') return { kind: 'new', outcome: 'refused no-debit', events: [] };
      if (debited.amount !== amount) return { kind: 'new', outcome: 'refused amount-mismatch', events: [] };
      if (!ledger.opened) fail('the ledger holds a debit but was never opened');
      raised(ledger.balance, amount);
      const data = { transfer, to, amount, reason: 'unknown-account' as const, seq };
      const event = sized({ type: 'Refunded', data } as const);
      return { kind: 'new', outcome: 'refunded', events: [event], step: { name, kept: { outcome: 'refunded' } } };
    }
    default:
      return assertNever(command);
  }
}

/** A debit or credit on a ledger never opened: nothing appended, the refusal kept all the same. */
const refusedUnknown = (name: string): LedgerDecision => ({
  kind: 'new',
  outcome: 'refused unknown-account',
  events: [],
  step: { name, kept: { outcome: 'refused unknown-account' } },
});

/**
 * Keeps a decision as its script does: each event folded by evolveLedger (at the entry ID the
 * append gave it, `ids[i]`), and the step recorded for good. Returns the state.
 */
export function applyDecision(state: LedgerState, decision: LedgerDecision, ids: readonly StreamId[]): LedgerState {
  if (decision.kind !== 'new') return state;
  for (const [i, event] of decision.events.entries()) evolveLedger(state.ledger, event, ids[i] ?? '0-0');
  if (decision.step) state.steps.set(decision.step.name, decision.step.kept);
  return state;
}

function assertNever(value: never): never {
  throw new Error(`unhandled ledger command ${JSON.stringify(value)}`);
}
