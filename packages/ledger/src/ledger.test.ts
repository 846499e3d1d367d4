/**
 * The fold of a ledger (evolveLedger), given/when/then with no I/O: given these events, then this
 * balance, this money issued, this numbering and these gaps.
 */
import type { LedgerEvent } from '@microbank/events';
import { testSuite } from '@microbank/testing';
import * as assert from 'uvu/assert';
import { emptyLedger, evolveLedger, type Ledger } from './ledger.ts';

const fold = testSuite('ledger fold');

const T1 = '3f2b8c1e-9a4d-4e7f-8b21-6c5d4e3f2a1b';
const T2 = '6a0c4b0e-1f2d-4c3b-9a8e-7d6c5b4a3f21';

const opened = (seq = 1): LedgerEvent => ({ type: 'AccountOpened', data: { account: 'john-account', seq } });
const issued = (amount: number, seq: number, issuance = 'opening:john-account'): LedgerEvent => ({
  type: 'Issued',
  data: { issuance, amount, seq },
});
const debited = (amount: number, seq?: number): LedgerEvent => ({
  type: 'Debited',
  data: { transfer: T1, to: 'mary-account', amount, ...(seq === undefined ? {} : { seq }) },
});
const credited = (amount: number, seq?: number): LedgerEvent => ({
  type: 'Credited',
  data: { transfer: T2, from: 'mary-account', amount, debit: '1-1', ...(seq === undefined ? {} : { seq }) },
});

/** Given these events, the ledger they fold to. */
function given(...events: LedgerEvent[]): Ledger {
  const ledger = emptyLedger();
  for (const [at, event] of events.entries()) evolveLedger(ledger, event, `1-${at}`);
  return ledger;
}

fold('an opening holds no money; the bank issues it', () => {
  const ledger = given(opened(), issued(100, 2));
  assert.equal(
    { balance: ledger.balance, issued: ledger.issued, seq: ledger.seq, gaps: ledger.gaps, opened: ledger.opened },
    { balance: 100, issued: 100, seq: 2, gaps: 0, opened: true },
  );
});

fold('debits, credits, refunds and declines move the balance as they say, numbered on', () => {
  const ledger = given(
    opened(),
    issued(100, 2),
    debited(30, 3),
    { type: 'DebitDeclined', data: { transfer: T2, to: 'a', amount: 500, reason: 'insufficient-funds', seq: 4 } },
    credited(5, 5),
    { type: 'Refunded', data: { transfer: T1, to: 'mary-account', amount: 30, reason: 'unknown-account', seq: 6 } },
  );
  assert.equal([ledger.balance, ledger.lowest, ledger.seq, ledger.gaps, ledger.events], [105, 0, 6, 0, 6]);
  assert.is(ledger.position, '1-5');
});

fold('old data: a version-1 opening`s amount is issued money, and its unnumbered entries count 1, 2...', () => {
  const ledger = given({ type: 'AccountOpened', data: { account: 'john-account', amount: 100 } }, debited(40));
  assert.equal([ledger.balance, ledger.issued, ledger.seq, ledger.gaps, ledger.numbered], [60, 100, 2, 0, false]);
  // The scripts go on from the length: the next entry is numbered 3.
  const next = evolveLedger(ledger, credited(1, 3), '1-9');
  assert.equal([next.balance, next.seq, next.gaps, next.numbered], [61, 3, 0, true]);
});

fold('a missing entry is a gap; numbering goes on from the entry seen', () => {
  const ledger = given(opened(), issued(100, 2), debited(10, 4), debited(10, 5));
  assert.equal([ledger.gaps, ledger.seq], [1, 5]);
});

fold('a repeated or reordered number is a gap', () => {
  assert.is(given(opened(), issued(100, 2), debited(10, 2)).gaps, 1, 'repeated');
  assert.is(given(opened(), debited(10, 3), issued(100, 2)).gaps, 2, 'reordered');
});

fold('an unnumbered entry after a numbered one is a gap (forged in the old layout)', () => {
  assert.is(given(opened(), issued(100, 2), credited(1_000)).gaps, 1);
});

fold('after a forged unnumbered entry the numbers go on from the last numbered one, as the scripts do', () => {
  // No script wrote the forged entry, so the state hash's seq (the next script's) did not move.
  const ledger = given(opened(), issued(100, 2), credited(1_000), debited(10, 3));
  assert.equal([ledger.seq, ledger.gaps, ledger.balance], [3, 1, 1_090]);
});

fold('a second opening adds no money, and is a gap when not numbered first', () => {
  const ledger = given(opened(), issued(100, 2), opened(3), {
    type: 'AccountOpened',
    data: { account: 'john-account', amount: 500 },
  });
  assert.equal([ledger.balance, ledger.issued, ledger.gaps], [100, 100, 1]);
});

fold('a debit past the balance (forged) shows in the lowest balance', () => {
  const ledger = given(opened(), issued(10, 2), debited(25, 3));
  assert.equal([ledger.balance, ledger.lowest], [-15, -15]);
});

fold.run();
