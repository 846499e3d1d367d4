/**
 * The audit, given/when/then with no I/O: given entries of the ledgers, the transfers stream and
 * the supply stream in some order, then these figures. Every check is shown passing on sound
 * books and failing once they are tampered with.
 */
import type { LedgerEvent, SupplyEvent, TransferEvent } from '@microbank/events';
import { testSuite } from '@microbank/testing';
import * as assert from 'uvu/assert';
import { type Audit, type AuditFigures, type AuditOptions, createAudit, type KeptState } from './audit.ts';
import { booksDigest } from './audit-checkpoint.ts';
import { orderedWaits } from './audit-waits.ts';

const audit = testSuite('audit');

type Step =
  | { stream: 'ledger'; account: string; event: LedgerEvent; id: string }
  | { stream: 'transfers'; event: TransferEvent; id: string }
  | { stream: 'supply'; event: SupplyEvent; id: string };

const T = '00000000-0000-4000-8000-000000000001';
const U = '00000000-0000-4000-8000-000000000002';

/**
 * Writes sound books step by step, as the scripts and the processor do: each entry its own ID
 * (one clock for every stream, a millisecond apart) and each ledger entry the next seq.
 */
function bank() {
  let clock = 1_000;
  const seqs = new Map<string, number>();
  const steps: Step[] = [];
  const nextId = () => `${clock++}-0`;
  const ledger = (account: string, type: LedgerEvent['type'], data: Record<string, unknown>) => {
    const seq = (seqs.get(account) ?? 0) + 1;
    seqs.set(account, seq);
    const id = nextId();
    steps.push({ stream: 'ledger', account, event: { type, data: { ...data, seq } } as LedgerEvent, id });
    return id;
  };
  const transfers = (event: TransferEvent) => {
    const id = nextId();
    steps.push({ stream: 'transfers', event, id });
    return id;
  };
  const b = {
    steps,
    nextId,
    /** Issues `amount` into a new ledger: SupplyIssued, then the ledger's AccountOpened and Issued. */
    open(account: string, amount = 100) {
      const issuance = `opening:${account}`;
      steps.push({
        stream: 'supply',
        event: { type: 'SupplyIssued', data: { issuance, account, amount } },
        id: nextId(),
      });
      ledger(account, 'AccountOpened', { account });
      return ledger(account, 'Issued', { issuance, amount });
    },
    ledger,
    request(from: string, to: string, amount: number, transfer = T) {
      return transfers({
        type: 'TransferRequested',
        data: { transfer, from, to, amount, key: `k-${transfer}`, requestedAt: new Date(clock).toISOString() },
      });
    },
    debit: (from: string, to: string, amount: number, transfer = T) =>
      ledger(from, 'Debited', { transfer, to, amount }),
    credit: (to: string, from: string, amount: number, debit: string, transfer = T) =>
      ledger(to, 'Credited', { transfer, from, amount, debit }),
    refund: (from: string, to: string, amount: number, transfer = T) =>
      ledger(from, 'Refunded', { transfer, to, amount, reason: 'unknown-account' }),
    complete: (debit: string, credit: string, transfer = T) =>
      transfers({ type: 'TransferCompleted', data: { transfer, debit, credit } }),
    reject: (reason: 'insufficient-funds' | 'unknown-account', refund?: string, transfer = T) =>
      transfers({ type: 'TransferRejected', data: { transfer, reason, ...(refund ? { refund } : {}) } }),
    /** A whole transfer, as the processor makes it. */
    transfer(from: string, to: string, amount: number, transfer = T) {
      b.request(from, to, amount, transfer);
      const debit = b.debit(from, to, amount, transfer);
      const credit = b.credit(to, from, amount, debit, transfer);
      const settled = b.complete(debit, credit, transfer);
      return { debit, credit, settled };
    },
  };
  return b;
}

function apply(books: Audit, step: Step) {
  if (step.stream === 'ledger') books.applyLedger(step.account, step.event, step.id);
  else if (step.stream === 'transfers') books.applyTransfer(step.event, step.id);
  else books.applySupply(step.event, step.id);
}
function fold(steps: Step[], options: AuditOptions = {}) {
  const books = createAudit(options);
  for (const step of steps) apply(books, step);
  return books;
}
const given = (steps: Step[]) => fold(steps).figures(0);

/** The steps of one stream (a ledger's account, or 'transfers' or 'supply'). */
const streamOf = (step: Step) => (step.stream === 'ledger' ? step.account : step.stream);
/** The same steps, each stream in its order, the streams one after another in `order`. */
const streamByStream = (steps: Step[], order: string[]) =>
  order.flatMap((stream) => steps.filter((step) => streamOf(step) === stream));

const reasons = (figures: AuditFigures) => figures.violations.first.map((v) => v.reason).join('\n');

audit('issued supply only: conserved, nothing in flight, each figure in the ledgers` words', () => {
  const b = bank();
  b.open('john');
  b.open('mary');
  assert.equal(given(b.steps), {
    conserved: true,
    supply: { issued: 200, openings: 0, total: 200 },
    balances: 200,
    inFlight: { amount: 0, transfers: 0 },
    issuing: { amount: 0, issuances: 0 },
    ahead: { amount: 0, entries: 0 },
    ledgers: 2,
    transfers: { requested: 0, completed: 0, rejected: 0, pending: 0 },
    stuck: { afterMs: 30_000, transfers: 0, issuances: 0, first: [] },
    violations: { count: 0, first: [] },
  });
});

audit('debited, not yet credited: in flight, still conserved; credited and completed: settled', () => {
  const b = bank();
  b.open('john');
  b.open('mary');
  b.request('john', 'mary', 30);
  const debit = b.debit('john', 'mary', 30);
  const inFlight = given(b.steps);
  assert.equal([inFlight.inFlight, inFlight.balances, inFlight.conserved], [{ amount: 30, transfers: 1 }, 170, true]);
  assert.is(inFlight.transfers.pending, 1);
  b.complete(debit, b.credit('mary', 'john', 30, debit));
  const settled = given(b.steps);
  assert.equal([settled.inFlight.amount, settled.balances, settled.conserved], [0, 200, true]);
  assert.equal(settled.transfers, { requested: 1, completed: 1, rejected: 0, pending: 0 });
});

audit('streams read one after another, in any order: conserved once all are read, never a violation before', () => {
  const b = bank();
  b.open('john');
  b.open('mary');
  b.transfer('john', 'mary', 30, T);
  b.transfer('mary', 'john', 5, U);
  for (const order of [
    ['supply', 'transfers', 'john', 'mary'],
    ['mary', 'john', 'transfers', 'supply'],
    ['transfers', 'mary', 'supply', 'john'],
  ]) {
    const books = createAudit();
    for (const stream of order) {
      for (const step of streamByStream(b.steps, [stream])) {
        if (step.stream === 'ledger') books.applyLedger(step.account, step.event, step.id);
        else if (step.stream === 'transfers') books.applyTransfer(step.event, step.id);
        else books.applySupply(step.event, step.id);
        assert.is(books.figures(0).violations.count, 0, `${order}: ${reasons(books.figures(0))}`);
      }
    }
    const figures = books.figures(0);
    assert.ok(figures.conserved, order.join());
    assert.equal([figures.balances, figures.ahead.amount, figures.transfers.pending], [200, 0, 0], order.join());
  }
});

audit(
  'a credit read before its debit is left out of the cut; one whose debit the source ledger does not hold is a violation',
  () => {
    const b = bank();
    b.open('john');
    b.open('mary');
    b.transfer('john', 'mary', 30);
    const early = given(streamByStream(b.steps, ['supply', 'transfers', 'mary']));
    assert.equal([early.ahead, early.balances, early.conserved], [{ amount: 30, entries: 1 }, 100, true]);
    // Tampered: john's ledger, read past the debit the credit names, does not hold it.
    const forged = bank();
    forged.open('john');
    forged.open('mary');
    forged.request('john', 'mary', 30);
    forged.credit('mary', 'john', 30, '1002-0');
    const figures = given(streamByStream(forged.steps, ['supply', 'transfers', 'mary', 'john']));
    assert.not.ok(figures.conserved);
    assert.match(reasons(figures), /a debit at 1002-0 of john's ledger, which does not hold it/);
  },
);

audit('a second credit, or a credit of another amount than its debit, is a violation', () => {
  const twice = bank();
  twice.open('john');
  twice.open('mary');
  const { debit } = twice.transfer('john', 'mary', 30);
  assert.ok(given(twice.steps).conserved);
  twice.credit('mary', 'john', 30, debit);
  assert.match(reasons(given(twice.steps)), /credited 30 after the transfer had settled/);
  const other = bank();
  other.open('john');
  other.open('mary');
  other.request('john', 'mary', 30);
  other.credit('mary', 'john', 31, other.debit('john', 'mary', 30));
  const figures = given(other.steps);
  assert.not.ok(figures.conserved);
  assert.match(reasons(figures), /requested as 30 from john to mary, but credited 31/);
  assert.match(reasons(figures), /debited 30 from john for mary at \S+, credited 31/);
});

audit('rejected with a refund: its debit and that refund; rejected without: no debit; a declined debit is fine', () => {
  const b = bank();
  b.open('john');
  b.request('john', 'ghost', 30);
  b.debit('john', 'ghost', 30);
  b.reject('unknown-account', b.refund('john', 'ghost', 30));
  b.request('john', 'mary', 500, U);
  b.ledger('john', 'DebitDeclined', { transfer: U, to: 'mary', amount: 500, reason: 'insufficient-funds' });
  b.reject('insufficient-funds', undefined, U);
  const sound = given(b.steps);
  assert.ok(sound.conserved, reasons(sound));
  assert.equal(sound.transfers, { requested: 2, completed: 0, rejected: 2, pending: 0 });
  // Tampered: rejected for insufficient funds, yet money left john's ledger.
  const forged = bank();
  forged.open('john');
  forged.request('john', 'mary', 30);
  forged.debit('john', 'mary', 30);
  forged.reject('insufficient-funds');
  assert.match(reasons(given(forged.steps)), /rejected with nothing to refund, yet debited/);
  // Tampered: the rejection names a refund the ledger does not hold at that position.
  const misnamed = bank();
  misnamed.open('john');
  misnamed.request('john', 'ghost', 30);
  misnamed.debit('john', 'ghost', 30);
  misnamed.refund('john', 'ghost', 30);
  misnamed.reject('unknown-account', '1004-0');
  assert.match(
    reasons(given(misnamed.steps)),
    /rejected naming its refund at 1004-0, but john's ledger holds its refund at/,
  );
});

audit('a rejection read before its ledger: its DebitDeclined still comes once; a debit would be a violation', () => {
  const b = bank();
  b.open('john');
  b.request('john', 'mary', 500);
  const declined = b.ledger('john', 'DebitDeclined', {
    transfer: T,
    to: 'mary',
    amount: 500,
    reason: 'insufficient-funds',
  });
  b.reject('insufficient-funds');
  const transfersFirst = streamByStream(b.steps, ['supply', 'transfers', 'john']);
  const sound = given(transfersFirst);
  assert.ok(sound.conserved, reasons(sound));
  assert.is(sound.transfers.pending, 0);
  // Tampered: a debit instead of its decline, read after the rejection.
  const debited = transfersFirst.map((s) =>
    s.id === declined && s.stream === 'ledger'
      ? { ...s, event: { type: 'Debited', data: { transfer: T, to: 'mary', amount: 50, seq: 3 } } as LedgerEvent }
      : s,
  );
  assert.equal(
    given(debited).violations.first.map((v) => v.reason),
    ['debited, yet rejected with nothing to refund'],
  );
  // A second decline is a second decision.
  const twice = [...transfersFirst, { ...(transfersFirst.at(-1) as Step), id: '9999-0' }].map((s, i, all) =>
    i === all.length - 1 ? { ...s, event: { ...s.event, data: { ...s.event.data, seq: 4 } } } : s,
  ) as Step[];
  assert.match(reasons(given(twice)), /its debit declined after the transfer had settled/);
});

audit('a refund names the account its debit was for; another one is a violation', () => {
  const b = bank();
  b.open('john');
  b.request('john', 'ghost', 30);
  b.debit('john', 'ghost', 30);
  b.reject('unknown-account', b.refund('john', 'mary', 30));
  const figures = given(b.steps);
  assert.not.ok(figures.conserved);
  assert.match(reasons(figures), /refunded for mary, its debit was for ghost/);
});

audit('a refund without a debit, or on top of a credit, is a violation', () => {
  const none = bank();
  none.open('john');
  none.request('john', 'ghost', 30);
  none.refund('john', 'ghost', 30);
  assert.match(reasons(given(none.steps)), /refunded 30 without a debit/);
  const both = bank();
  both.open('john');
  both.open('mary');
  both.transfer('john', 'mary', 30);
  assert.ok(given(both.steps).conserved);
  both.refund('john', 'mary', 30);
  assert.not.ok(given(both.steps).conserved);
});

audit('a balance below zero at any point is a violation, even when the end adds up', () => {
  const b = bank();
  b.open('john', 10);
  b.open('mary');
  b.transfer('john', 'mary', 10);
  assert.ok(given(b.steps).conserved);
  const over = bank();
  over.open('john', 10);
  over.open('mary');
  over.transfer('john', 'mary', 30);
  const figures = given(over.steps);
  assert.not.ok(figures.conserved);
  assert.equal(figures.violations.first[0]?.ledger, 'john');
  assert.match(reasons(figures), /below zero \(-20\)/);
});

audit('a ledger opened twice does not add money, and is a violation', () => {
  const b = bank();
  b.open('john');
  b.ledger('john', 'AccountOpened', { account: 'john' });
  const figures = given(b.steps);
  assert.equal([figures.supply.total, figures.balances], [100, 100]);
  assert.match(reasons(figures), /opened a second time/);
});

audit('an old AccountOpened v1 with an amount counts as openings, and is flagged: not issued by the bank', () => {
  const steps: Step[] = [
    {
      stream: 'ledger',
      account: 'john',
      event: { type: 'AccountOpened', data: { account: 'john', amount: 100 } },
      id: '1-0',
    },
    {
      stream: 'ledger',
      account: 'mary',
      event: { type: 'AccountOpened', data: { account: 'mary', amount: 0 } },
      id: '2-0',
    },
  ];
  const figures = given(steps);
  assert.equal(figures.supply, { issued: 0, openings: 100, total: 100 });
  assert.is(figures.balances, 100);
  assert.not.ok(figures.conserved);
  assert.equal(figures.violations.first, [
    { ledger: 'john', at: '1-0', reason: 'opened with 100 not issued by the bank (an AccountOpened v1)' },
  ]);
});

audit('seq: a deleted entry is a gap, a repeated or reordered one a violation, naming the ledger and the seq', () => {
  const b = bank();
  b.open('john');
  b.open('mary');
  b.transfer('john', 'mary', 30, T);
  b.transfer('john', 'mary', 5, U);
  assert.ok(given(b.steps).conserved);
  // Mary's first credit deleted (its transfer's outcome aside): her next credit shows the gap.
  const credit = b.steps.findIndex((s) => s.stream === 'ledger' && s.account === 'mary' && s.event.type === 'Credited');
  const deleted = given(b.steps.filter((_, i) => i !== credit));
  assert.not.ok(deleted.conserved);
  const gap = deleted.violations.first.find((v) => /seq/.test(v.reason));
  assert.equal(gap, {
    ledger: 'mary',
    at: (b.steps.filter((s) => s.stream === 'ledger' && s.account === 'mary').at(-1) as Step).id,
    reason: 'seq jumps from 2 to 4: entries 3 are missing (deleted, or unreadable)',
  });
  // The same entry read twice (a rewritten copy) is a violation too.
  const repeated = [...b.steps, b.steps[credit] as Step].map((s, i, all) =>
    i === all.length - 1 ? { ...s, id: '9999-0' } : s,
  );
  assert.match(reasons(given(repeated)), /seq 3 where 5 was due/);
  // An entry without a seq after numbered ones (forged in the old format).
  const old = [
    ...b.steps,
    {
      stream: 'ledger',
      account: 'mary',
      event: { type: 'DebitDeclined', data: { transfer: U, to: 'x', amount: 1, reason: 'insufficient-funds' } },
      id: '9999-0',
    } as Step,
  ];
  assert.match(reasons(given(old)), /an entry without a seq after numbered ones/);
});

audit('a ledger begun before numbering: its old entries count 1..n, the first numbered one goes on from there', () => {
  const steps: Step[] = [
    {
      stream: 'ledger',
      account: 'john',
      event: { type: 'AccountOpened', data: { account: 'john', amount: 0 } },
      id: '1-0',
    },
    {
      stream: 'ledger',
      account: 'john',
      event: { type: 'DebitDeclined', data: { transfer: T, to: 'mary', amount: 5, reason: 'insufficient-funds' } },
      id: '2-0',
    },
    {
      stream: 'transfers',
      event: {
        type: 'TransferRequested',
        data: { transfer: U, from: 'john', to: 'mary', amount: 5, key: 'k', requestedAt: '2026-01-01T00:00:00Z' },
      },
      id: '3-0',
    },
    {
      stream: 'ledger',
      account: 'john',
      event: {
        type: 'DebitDeclined',
        data: { transfer: U, to: 'mary', amount: 5, reason: 'insufficient-funds', seq: 3 },
      },
      id: '4-0',
    },
  ];
  assert.not.match(reasons(given(steps)), /seq/);
  const off = steps.map((s) =>
    s.id === '4-0' ? { ...s, event: { ...s.event, data: { ...s.event.data, seq: 4 } } } : s,
  ) as Step[];
  assert.match(reasons(given(off)), /seq jumps from 2 to 4/);
});

audit('a second debit of a transfer that settled is a violation', () => {
  const b = bank();
  b.open('john', 100);
  b.open('mary');
  b.transfer('john', 'mary', 30);
  assert.ok(given(b.steps).conserved);
  b.debit('john', 'mary', 30);
  const figures = given(b.steps);
  assert.not.ok(figures.conserved);
  assert.equal(figures.violations.first.at(-1), {
    ledger: 'john',
    transfer: T,
    at: (b.steps.at(-1) as Step).id,
    reason: 'debited 30 after the transfer had settled',
  });
});

audit('beyond the reconciled transfers it remembers, a step of a forgotten one is still a violation', () => {
  const b = bank();
  b.open('john');
  b.open('mary');
  const transfers = ['00000000-0000-4000-8000-00000000000a', '00000000-0000-4000-8000-00000000000b', U];
  for (const transfer of transfers) b.transfer('john', 'mary', 1, transfer);
  b.debit('john', 'mary', 1, transfers[0]);
  const books = fold(b.steps, { reconciledRemembered: 2 });
  assert.is(books.figures(0).violations.count, 0, 'not before the transfers stream is read past it');
  books.readThrough('transfers', 1_000_000);
  assert.equal(
    books.figures(0).violations.first.map((v) => [v.transfer, v.reason]),
    [
      [
        transfers[0],
        'names a transfer that was never requested, or one reconciled before the last 2 the audit remembers',
      ],
    ],
  );
  const remembered = fold(b.steps, { reconciledRemembered: 3 }).figures(0);
  assert.equal(remembered.violations.first[0]?.reason, 'debited 1 after the transfer had settled');
});

audit('after a compaction: the archived transfers` ledger entries are checked against each other, not flagged', () => {
  const b = bank();
  b.open('john');
  b.open('mary');
  b.transfer('john', 'mary', 30, T);
  const point = b.nextId();
  b.transfer('mary', 'john', 5, U);
  // What a rebuild reads: the transfers stream trimmed before the point.
  const trimmed = b.steps.filter((s) => s.stream !== 'transfers' || s.id >= point);
  const compacted = createAudit();
  compacted.compactedBefore(point);
  for (const step of trimmed) apply(compacted, step);
  compacted.readThrough('transfers', 1_000_000);
  const figures = compacted.figures(0);
  assert.ok(figures.conserved, reasons(figures));
  assert.equal([figures.transfers.pending, figures.transfers.requested, figures.balances], [0, 1, 200]);
  // Tampered: without the point, the same books name every archived transfer's entries.
  const unaware = fold(trimmed);
  unaware.readThrough('transfers', 1_000_000);
  assert.match(reasons(unaware.figures(0)), /names a transfer that was never requested/);
  // The point learnt late (after the ledgers were read): the same.
  const late = fold(trimmed);
  late.compactedBefore(point);
  late.readThrough('transfers', 1_000_000);
  assert.ok(late.figures(0).conserved, reasons(late.figures(0)));
  // After the point, an entry naming no transfer is still a violation.
  b.debit('john', 'mary', 1, '00000000-0000-4000-8000-0000000000ff');
  const forged = createAudit();
  forged.compactedBefore(point);
  for (const step of b.steps.filter((s) => s.stream !== 'transfers' || s.id >= point)) apply(forged, step);
  forged.readThrough('transfers', 1_000_000);
  assert.match(reasons(forged.figures(0)), /names a transfer that was never requested/);
});

audit('ordered waits: taken out in order of position, whatever order they came in', () => {
  const waits = orderedWaits<number, string>((a, b) => a - b);
  for (const [position, item] of [
    [5, 'e'],
    [1, 'a'],
    [9, 'i'],
    [3, 'c'],
    [3, 'c2'],
    [7, 'g'],
  ] as const)
    waits.add(position, item);
  assert.equal(waits.takeUpTo(3), ['a', 'c', 'c2']);
  assert.equal(
    waits.takeAfter(6, (item) => item !== 'g'),
    ['i'],
  );
  assert.equal([waits.size, ...waits.takeUpTo(100)], [2, 'e', 'g']);
});

audit(
  'a completed transfer whose credit is missing: a violation once mary`s ledger is read past it, not before',
  () => {
    const b = bank();
    b.open('john');
    b.open('mary');
    b.request('john', 'mary', 30);
    const debit = b.debit('john', 'mary', 30);
    const credit = b.nextId(); // the position it names; mary's ledger never got it
    b.complete(debit, credit);
    const waiting = given(b.steps);
    assert.is(waiting.violations.count, 0, reasons(waiting));
    assert.equal(waiting.inFlight, { amount: 30, transfers: 1 });
    b.request('mary', 'john', 1, U);
    b.debit('mary', 'john', 1, U); // mary's ledger now goes past `credit`
    const passed = given(b.steps);
    assert.not.ok(passed.conserved);
    assert.equal(passed.violations.first[0], {
      ledger: 'mary',
      transfer: T,
      at: credit,
      reason: `completed naming its credit at ${credit}, but mary's ledger holds no credit of it`,
    });
  },
);

audit('a completed transfer naming entries past a ledger`s end: a violation when the kept state shows that end', () => {
  const b = bank();
  b.open('john');
  b.open('mary');
  b.request('john', 'mary', 30);
  const debit = b.debit('john', 'mary', 30);
  const lastOfMary = (b.steps.filter((s) => streamOf(s) === 'mary').at(-1) as Step).id;
  b.complete(debit, '5000-0');
  const books = fold(b.steps);
  const mark = books.mark();
  books.compareKept('mary', { state: { opened: '1004-0', balance: '100', seq: '2' }, steps: 1 }, lastOfMary, mark);
  assert.match(reasons(books.figures(0)), /completed naming its credit at 5000-0, but mary's ledger holds no credit/);
});

audit('every ledger entry names a requested transfer, once the transfers stream is read past it', () => {
  const b = bank();
  b.open('john');
  b.open('mary');
  b.debit('john', 'mary', 30); // no request
  const books = fold(b.steps);
  assert.is(books.figures(0).violations.count, 0);
  const debitAt = Number((b.steps.at(-1) as Step).id.split('-')[0]);
  books.readThrough('transfers', debitAt + 500);
  assert.is(books.figures(0).violations.count, 0, 'within the clocks` margin');
  books.readThrough('transfers', debitAt + 1_000);
  assert.equal(books.figures(0).violations.first, [
    { ledger: 'john', transfer: T, at: `${debitAt}-0`, reason: 'names a transfer that was never requested' },
  ]);
  // Requested in time (read after the debit, as when the transfers stream lags): no violation.
  const late = bank();
  late.open('john');
  late.open('mary');
  const { steps } = late;
  late.request('john', 'mary', 30);
  const request = steps.pop() as Step;
  late.debit('john', 'mary', 30);
  steps.push(request);
  const books2 = fold(steps);
  books2.readThrough('transfers', 10_000);
  assert.is(books2.figures(0).violations.count, 0);
});

audit(
  'supply: each Issued matches its SupplyIssued; one without is a violation once the supply stream is read past it',
  () => {
    const b = bank();
    b.open('john');
    const issuedAt = b.ledger('john', 'Issued', { issuance: 'bonus-1', amount: 50 });
    const books = fold(b.steps);
    let figures = books.figures(0);
    assert.equal([figures.ahead.amount, figures.balances, figures.conserved], [50, 100, true]);
    books.readThrough('supply', Number(issuedAt.split('-')[0]) + 1_000);
    figures = books.figures(0);
    assert.not.ok(figures.conserved);
    assert.equal(figures.violations.first, [
      {
        ledger: 'john',
        issuance: 'bonus-1',
        at: issuedAt,
        reason: 'issued 50 for an issuance the supply stream does not hold',
      },
    ]);
    // Issued with another amount than the supply stream's.
    const other = bank();
    other.steps.push({
      stream: 'supply',
      event: { type: 'SupplyIssued', data: { issuance: 'opening:john', account: 'john', amount: 100 } },
      id: other.nextId(),
    });
    other.ledger('john', 'AccountOpened', { account: 'john' });
    other.ledger('john', 'Issued', { issuance: 'opening:john', amount: 1_000 });
    assert.match(reasons(given(other.steps)), /issued 1000 into john, the supply stream issued 100 to john/);
  },
);

audit('issued on the supply stream, not yet in its ledger: issuing, conserved, stuck after the limit', () => {
  const b = bank();
  b.open('john');
  b.steps.push({
    stream: 'supply',
    event: { type: 'SupplyIssued', data: { issuance: 'later', account: 'john', amount: 7 } },
    id: '2000-0',
  });
  const books = fold(b.steps, { stuckAfterMs: 100 });
  const figures = books.figures(2_050);
  assert.equal([figures.issuing, figures.supply.total, figures.conserved], [{ amount: 7, issuances: 1 }, 107, true]);
  assert.equal(books.figures(2_100).stuck.first, [{ issuance: 'later', ageMs: 100, waiting: 'its Issued entry' }]);
});

audit(
  'stuck: a debit never credited is listed after the limit (shown, not a violation), and no longer once credited',
  () => {
    const b = bank();
    b.open('john');
    b.open('mary');
    const requestedAt = b.request('john', 'mary', 30);
    const debit = b.debit('john', 'mary', 30);
    const books = fold(b.steps, { stuckAfterMs: 5_000 });
    const since = Number(requestedAt.split('-')[0]);
    assert.is(books.figures(since + 4_999).stuck.transfers, 0);
    const stuck = books.figures(since + 5_000);
    assert.equal(stuck.stuck, {
      afterMs: 5_000,
      transfers: 1,
      issuances: 0,
      first: [{ transfer: T, ageMs: 5_000, waiting: 'a credit or a refund' }],
    });
    assert.ok(stuck.conserved);
    const credit = b.credit('mary', 'john', 30, debit);
    books.applyLedger('mary', (b.steps.at(-1) as Extract<Step, { stream: 'ledger' }>).event, credit);
    assert.is(books.figures(since + 60_000).stuck.transfers, 1, 'credited, no outcome yet');
    assert.equal(books.figures(since + 60_000).stuck.first[0]?.waiting, 'an outcome');
    b.complete(debit, credit);
    books.applyTransfer((b.steps.at(-1) as Extract<Step, { stream: 'transfers' }>).event, (b.steps.at(-1) as Step).id);
    assert.is(books.figures(since + 60_000).stuck.transfers, 0);
  },
);

audit(
  'the kept state is compared when the fold is exactly at the stream`s last entry: each field that differs is named',
  () => {
    const b = bank();
    b.open('john');
    b.open('mary');
    const { credit } = b.transfer('john', 'mary', 30);
    const books = fold(b.steps);
    const kept = (balance: string, seq: string, steps = 2): KeptState => ({
      state: { opened: '1004-0', balance, seq },
      steps,
    });
    books.compareKept('mary', kept('130', '3'), credit, books.mark());
    assert.is(books.figures(0).violations.count, 0);
    books.compareKept('mary', kept('100', '3'), credit, books.mark());
    books.compareKept('mary', kept('130', '2', 1), credit, books.mark());
    assert.equal(
      books.figures(0).violations.first.map((v) => [v.ledger, v.reason]),
      [
        ['mary', `the script-kept balance is 100, the fold of the stream says 130 (at ${credit})`],
        ['mary', `the script-kept seq is 2, the fold of the stream says 3 (at ${credit})`],
        ['mary', `the steps hash holds 1 steps, the stream 2 entries that each have one (at ${credit})`],
      ],
    );
  },
);

audit('the kept state read ahead of the fold waits for it; read behind it, it is not compared', () => {
  const b = bank();
  b.open('john');
  b.open('mary');
  const { credit } = b.transfer('john', 'mary', 30);
  const upTo = b.steps.findIndex((s) => s.id === credit);
  const books = fold(b.steps.slice(0, upTo));
  books.compareKept('mary', { state: { opened: '1004-0', balance: '999', seq: '3' }, steps: 2 }, credit, books.mark());
  assert.is(books.figures(0).violations.count, 0, 'not compared before the fold gets there');
  for (const step of b.steps.slice(upTo)) {
    if (step.stream === 'ledger') books.applyLedger(step.account, step.event, step.id);
    else if (step.stream === 'transfers') books.applyTransfer(step.event, step.id);
  }
  assert.match(reasons(books.figures(0)), /script-kept balance is 999, the fold of the stream says 130/);
  const behind = fold(b.steps);
  behind.compareKept('mary', { state: { opened: '1004-0', balance: '999', seq: '2' }, steps: 1 }, '1004-0', 0);
  assert.is(behind.figures(0).violations.count, 0);
});

audit('the checkpoint: the same entries give the same digest, in any interleaving; one byte changed does not', () => {
  const entries: Array<[string, string, string[]]> = [
    ['ledger:{john}', '1-0', ['type', 'AccountOpened', 'v', '2', 'data', '{"account":"john","seq":1}']],
    ['{transfers}', '2-0', ['type', 'TransferRequested', 'v', '1', 'data', '{}']],
    ['ledger:{john}', '3-0', ['type', 'Issued', 'v', '1', 'data', '{"issuance":"i","amount":5,"seq":2}']],
  ];
  const digestOf = (list: typeof entries) => {
    const digest = booksDigest();
    for (const [name, id, fields] of list)
      digest.note(
        name,
        id,
        fields.map((f) => Buffer.from(f)),
      );
    return digest.checkpoint();
  };
  const one = digestOf(entries);
  assert.equal(one.positions, { 'ledger:{john}': '3-0', '{transfers}': '2-0' });
  assert.equal(digestOf([entries[1], entries[0], entries[2]] as typeof entries), one);
  const changed = entries.map(([n, id, f]) => [n, id, f.map((x) => x.replace('"amount":5', '"amount":6'))]);
  assert.is.not(digestOf(changed as typeof entries).digest, one.digest);
  const moved = entries.map(([n, id, f]) => [n, id === '3-0' ? '3-1' : id, f]);
  assert.is.not(digestOf(moved as typeof entries).digest, one.digest);
  // Fields cut elsewhere (the same bytes, framed differently) are other entries.
  const reframed = entries.map(([n, id, f]) => [
    n,
    id,
    id === '2-0' ? ['type', 'TransferRequestedv', '', '1', 'data', '{}'] : f,
  ]);
  assert.is.not(digestOf(reframed as typeof entries).digest, one.digest);
});

audit.run();
