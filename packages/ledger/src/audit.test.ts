/** The audit, given/when/then with no I/O: given ledger events in some order across ledgers, then these figures. */
import type { LedgerEvent } from '@microbank/events';
import { testSuite } from '@microbank/testing';
import * as assert from 'uvu/assert';
import { createAudit } from './audit.ts';

const audit = testSuite('audit');

type Step = [account: string, event: LedgerEvent, id: string];
const T = '00000000-0000-4000-8000-000000000001';
const U = '00000000-0000-4000-8000-000000000002';
const opened = (account: string, amount = 100, id = '1-0'): Step => [
  account,
  { type: 'AccountOpened', data: { account, amount } },
  id,
];
const debited = (from: string, to: string, amount: number, id: string, transfer = T): Step => [
  from,
  { type: 'Debited', data: { transfer, to, amount } },
  id,
];
const credited = (to: string, from: string, amount: number, debit: string, id: string, transfer = T): Step => [
  to,
  { type: 'Credited', data: { transfer, from, amount, debit } },
  id,
];
const refunded = (from: string, to: string, amount: number, id: string, transfer = T): Step => [
  from,
  { type: 'Refunded', data: { transfer, to, amount, reason: 'unknown-account' } },
  id,
];

function given(...steps: Step[]) {
  const books = createAudit();
  for (const [account, event, id] of steps) books.apply(account, event, id);
  return books.figures();
}

audit('openings only: conserved, nothing in flight', () => {
  const figures = given(opened('john'), opened('mary'));
  assert.equal(
    { ...figures, firstViolations: undefined },
    {
      openings: 200,
      balances: 200,
      inFlight: 0,
      transfersInFlight: 0,
      ahead: 0,
      accounts: 2,
      violations: 0,
      firstViolations: undefined,
      conserved: true,
    },
  );
});

audit('debited, not yet credited: the money is in flight, still conserved', () => {
  const figures = given(opened('john'), opened('mary'), debited('john', 'mary', 30, '2-0'));
  assert.is(figures.inFlight, 30);
  assert.is(figures.balances, 170);
  assert.ok(figures.conserved);
});

audit('a credit read before its debit (another ledger read first) is left out of the cut until the debit', () => {
  const early = given(
    opened('john', 100, '1-0'),
    opened('mary', 100, '1-1'),
    credited('mary', 'john', 30, '5-0', '6-0'),
  );
  assert.is(early.ahead, 30);
  assert.is(early.balances, 200);
  assert.ok(early.conserved);
  const later = given(
    opened('john', 100, '1-0'),
    opened('mary', 100, '1-1'),
    credited('mary', 'john', 30, '5-0', '6-0'),
    debited('john', 'mary', 30, '5-0'),
  );
  assert.is(later.ahead, 0);
  assert.is(later.balances, 200);
  assert.ok(later.conserved);
});

audit('a credit whose debit the source ledger does not hold is a violation', () => {
  const figures = given(
    opened('john', 100, '1-0'),
    opened('mary', 100, '1-1'),
    credited('mary', 'john', 30, '5-0', '6-0'),
    debited('john', 'eve', 1, '7-0', U),
  );
  assert.not.ok(figures.conserved);
  assert.match(figures.firstViolations[0] ?? '', /does not hold/);
});

audit('a second credit of a transfer creates money: not conserved', () => {
  const figures = given(
    opened('john'),
    opened('mary'),
    debited('john', 'mary', 30, '2-0'),
    credited('mary', 'john', 30, '2-0', '3-0'),
    credited('mary', 'john', 30, '2-0', '4-0'),
  );
  assert.not.ok(figures.conserved);
});

audit('a credit of another amount than its debit is a violation', () => {
  const figures = given(
    opened('john'),
    opened('mary'),
    debited('john', 'mary', 30, '2-0'),
    credited('mary', 'john', 31, '2-0', '3-0'),
  );
  assert.not.ok(figures.conserved);
  assert.ok(figures.violations >= 1);
});

audit('a refund settles a debit; a refund without one, or on top of a credit, is a violation', () => {
  assert.ok(given(opened('john'), debited('john', 'ghost', 30, '2-0'), refunded('john', 'ghost', 30, '3-0')).conserved);
  assert.not.ok(given(opened('john'), refunded('john', 'ghost', 30, '3-0')).conserved);
  assert.not.ok(
    given(
      opened('john'),
      opened('mary'),
      debited('john', 'mary', 30, '2-0'),
      credited('mary', 'john', 30, '2-0', '3-0'),
      refunded('john', 'mary', 30, '4-0'),
    ).conserved,
  );
});

audit('a balance below zero at any point is a violation, even when the end adds up', () => {
  const figures = given(
    opened('john', 10),
    opened('mary'),
    debited('john', 'mary', 30, '2-0'),
    credited('mary', 'john', 30, '2-0', '3-0'),
  );
  assert.not.ok(figures.conserved);
  assert.match(figures.firstViolations[0] ?? '', /below zero/);
});

audit('a ledger opened twice does not add money', () => {
  const figures = given(opened('john'), opened('john', 100, '9-0'));
  assert.is(figures.openings, 100);
  assert.not.ok(figures.conserved);
});

audit.run();
