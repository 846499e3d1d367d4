/**
 * An account's ledger as a fold of its events: its balance, the money issued into it, and whether
 * its entries are numbered without a gap. What may be appended is decided by ledger-decider.ts
 * (pure) and, atomically on Redis, by the Lua scripts that mirror it; this is what the appended
 * events mean, the one fold every reader uses (the decider, the account's balance, the books, the
 * audit).
 */
import type { LedgerEvent } from '@microbank/events';
import type { StreamId } from '@microbank/streams';

export interface Ledger {
  opened: boolean;
  balance: number;
  /** The lowest balance the ledger ever had after an event (never below 0 in a sound bank). */
  lowest: number;
  /** Money issued into this ledger: its Issued amounts, and a version-1 AccountOpened's amount (old data). */
  issued: number;
  /**
   * The last entry's number: its `seq`, or for a version-1 entry (which carries none) its place in
   * the stream. The next entry must carry seq + 1. The ledger's state hash keeps the same number.
   */
  seq: number;
  /** Whether a numbered entry (one with `seq`) has been folded: from then on every entry must be numbered. */
  numbered: boolean;
  /** Entries whose number was not the one expected (an entry missing, repeated, reordered or unnumbered). */
  gaps: number;
  /** Events folded, and the position of the last one. */
  events: number;
  position: StreamId | undefined;
}

export function emptyLedger(): Ledger {
  return {
    opened: false,
    balance: 0,
    lowest: 0,
    issued: 0,
    seq: 0,
    numbered: false,
    gaps: 0,
    events: 0,
    position: undefined,
  };
}

/** Folds one event into the ledger (in place, for replay speed) and returns it. */
export function evolveLedger(ledger: Ledger, event: LedgerEvent, id: StreamId): Ledger {
  switch (event.type) {
    case 'AccountOpened':
      // Appended once per ledger by its script; a second one (forged) does not add money.
      if (!ledger.opened) {
        ledger.opened = true;
        // Only a version-1 opening (old data) carries an amount: the balance the account chose then.
        const opening = event.data.amount ?? 0;
        ledger.balance += opening;
        ledger.issued += opening;
      }
      break;
    case 'Issued':
      ledger.balance += event.data.amount;
      ledger.issued += event.data.amount;
      break;
    case 'Debited':
      ledger.balance -= event.data.amount;
      break;
    case 'Credited':
    case 'Refunded':
      ledger.balance += event.data.amount;
      break;
    case 'DebitDeclined':
      break;
    default:
      assertNever(event);
  }
  countEntry(ledger, event.data.seq);
  if (ledger.balance < ledger.lowest) ledger.lowest = ledger.balance;
  ledger.events++;
  ledger.position = id;
  return ledger;
}

/** Checks the entry's number against the one expected; after a gap, counts on from the entry's own. */
function countEntry(ledger: Ledger, seq: number | undefined): void {
  const expected = ledger.seq + 1;
  if (seq === undefined) {
    // Before numbering, entries count 1, 2, ... (the scripts' XLEN). After it, an unnumbered entry
    // is forged: no script wrote it, so the number the scripts go on from stays where it was.
    if (ledger.numbered) ledger.gaps++;
    else ledger.seq = expected;
    return;
  }
  if (seq !== expected) ledger.gaps++;
  ledger.numbered = true;
  ledger.seq = seq;
}

function assertNever(value: never): never {
  throw new Error(`unhandled ledger event ${JSON.stringify(value)}`);
}
