/**
 * An account's ledger as a fold of its events: its balance and what it has seen. The Lua scripts
 * decide what may be appended; this is what the appended events mean.
 */
import type { LedgerEvent, StreamId } from '@microbank/events';

export interface Ledger {
  opened: boolean;
  balance: number;
  /** The lowest balance the ledger ever had after an event (never below 0 in a sound bank). */
  lowest: number;
  /** Events folded, and the position of the last one. */
  events: number;
  position: StreamId | undefined;
}

export function emptyLedger(): Ledger {
  return { opened: false, balance: 0, lowest: 0, events: 0, position: undefined };
}

/** Folds one event into the ledger (in place, for replay speed) and returns it. */
export function evolveLedger(ledger: Ledger, event: LedgerEvent, id: StreamId): Ledger {
  switch (event.type) {
    case 'AccountOpened':
      // Appended once per ledger by its script; a second one (forged) does not add money.
      if (!ledger.opened) {
        ledger.opened = true;
        ledger.balance += event.data.amount;
      }
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
  if (ledger.balance < ledger.lowest) ledger.lowest = ledger.balance;
  ledger.events++;
  ledger.position = id;
  return ledger;
}

function assertNever(value: never): never {
  throw new Error(`unhandled ledger event ${JSON.stringify(value)}`);
}
