/**
 * The bank's audit of itself, folded from its streams alone: every ledger (one per account), the
 * transfers stream and the supply stream. It says `conserved` only when
 *  - balances + money in flight + money issuing = the supply (what the bank issued, plus the
 *    amounts of old AccountOpened v1 entries, each of which is also a violation: that money was
 *    not issued by the bank);
 *  - every ledger's entries are numbered 1, 2, 3... (`seq`) without a gap or a repeat, so a
 *    deleted, reordered or rewritten entry is seen, and no balance was ever below zero;
 *  - every transfer's outcome matches both ledgers: completed ⇒ its debit and its credit at the
 *    positions TransferCompleted names; rejected with a refund ⇒ its debit and that refund;
 *    rejected without ⇒ no debit. Each transfer step happens once, forever (a second debit of a
 *    settled transfer is a violation), and every ledger entry names a transfer that was requested;
 *  - every Issued matches its SupplyIssued (issuance, account, amount);
 *  - what the ledger scripts keep (state hash, steps hash) equals the fold (compareKept, fed by
 *    books-state-check.ts).
 *
 * The streams are read at their own pace, so the audit works on a consistent cut. Within one
 * stream, order is exact: a check that needs ledger L at position P waits until L's fold has
 * passed P (a credit whose debit L has not reached is "ahead" and left out of the balances; an
 * outcome naming entries L has not reached is checked when it has). Across streams, a stream's
 * entry IDs are its clock: an entry naming a transfer (an issuance) that is not requested (issued)
 * is a violation once the transfers (supply) stream has been read through that entry's time plus
 * `clockMarginMs`.
 *
 * After a compaction (the transfers stream archived and trimmed before a quiet cut, see
 * packages/transfer's compaction.ts), ledger entries before the cut whose transfer was not read
 * are those of archived transfers: they are checked against each other (a credit against its
 * debit, a refund against its debit), not against a request and an outcome.
 *
 * Not a violation but shown: transfers (and issuances) not settled after `stuckAfterMs`, by the
 * time of their first entry. Per entry the work is a few map lookups and, for what waits on
 * another stream, a heap (audit-waits.ts). A transfer is reconciled once its outcome and both
 * ledgers' steps agree; reconciled transfers are remembered by ID only (the last
 * `reconciledRemembered`), so that a step of theirs appended later is still caught.
 */
import type { LedgerEvent, SupplyEvent, TransferEvent } from '@microbank/events';
import { compareStreamIds, ownCopy, type StreamId, streamIdMillis } from '@microbank/streams';
import type { Checkpoint } from './audit-checkpoint.ts';
import type { AuditFigures, StuckItem, Violation } from './audit-figures.ts';
import { createSupplyAudit } from './audit-supply.ts';
import { compareStreamIdKeys, type OrderedWaits, orderedWaits, type StreamIdKey, streamIdKey } from './audit-waits.ts';
import { emptyLedger, evolveLedger, type Ledger } from './ledger.ts';

export type { Checkpoint } from './audit-checkpoint.ts';
export type { AuditFigures, StuckItem, Violation } from './audit-figures.ts';

/** How long a transfer may go unsettled before it is reported stuck, by default. */
export const STUCK_AFTER_MS = 30_000;
/**
 * Reconciled transfers remembered by ID, by default: a later step of one is "after the transfer had
 * settled". Beyond, the oldest are forgotten (memory stays bounded) and a step of a forgotten one
 * is still a violation, as naming a transfer not requested.
 */
export const RECONCILED_REMEMBERED = 1_000_000;
/** How far apart the clocks of two streams' entry IDs may be (one Redis: the same clock). */
export const CLOCK_MARGIN_MS = 1_000;
/** The violations and stuck transfers listed (their counts are kept whole). */
const LISTED = 20;

/** What the ledger scripts keep about one ledger, read atomically with the stream's last entry ID. */
export interface KeptState {
  /** The state hash's fields (HGETALL): opened, balance, seq. */
  state: Record<string, string>;
  /** How many steps the steps hash holds (HLEN). */
  steps: number;
  /**
   * The steps hash's compaction point, if it was compacted: the steps of transfers settled before
   * it are gone, so their number cannot be compared with the fold's.
   */
  compactedBefore?: string;
}

export interface AuditOptions {
  stuckAfterMs?: number;
  reconciledRemembered?: number;
  clockMarginMs?: number;
  /** The checkpoint of what was applied, shown with the figures. */
  checkpoint?: () => Checkpoint;
}

export interface Audit {
  /** Folds one entry of `account`'s ledger, at `id`. */
  applyLedger(account: string, event: LedgerEvent, id: StreamId): void;
  /** Folds one entry of the transfers stream. */
  applyTransfer(event: TransferEvent, id: StreamId): void;
  /** Folds one entry of the supply stream. */
  applySupply(event: SupplyEvent, id: StreamId): void;
  /** Everything appended to that stream up to `ms` (by its clock) has been applied. */
  readThrough(stream: 'transfers' | 'supply', ms: number): void;
  /**
   * The transfers were compacted before `point` (compaction.ts): their requests and outcomes are
   * archived, so a ledger entry before it that names no transfer read is accepted as one of
   * theirs, and checked against its ledger entries alone.
   */
  compactedBefore(point: StreamId): void;
  /** A number that grows with every entry applied: what was applied before a read was sent. */
  mark(): number;
  /** Where `account`'s ledger has been folded to, if anywhere. */
  position(account: string): StreamId | undefined;
  /** The ledgers with an entry applied, oldest first (kept as they come, not rebuilt per call). */
  ledgerNames(): readonly string[];
  /** Each ledger with an entry applied, folded (ledger.ts), in the order of its first entry. */
  readonly ledgers: ReadonlyMap<string, Ledger>;
  /**
   * Compares what the scripts keep with the fold, once the fold is exactly at `lastId` (the
   * stream's last entry when `kept` was read, atomically, after `mark`): now, when it is there
   * already; when it gets there; not at all when it is past.
   */
  compareKept(account: string, kept: KeptState, lastId: StreamId, mark: number): void;
  /** The ledger has been consumed up to `lastId`: a comparison still waiting (its last entries skipped) is made now. */
  keptConsumed(account: string, lastId: StreamId): void;
  /** Records a violation found outside the fold (the steps hash, say), once per `key`. */
  violationOnce(key: string, violation: Violation): void;
  figures(now?: number): AuditFigures;
}

interface DebitEntry {
  ledger: string;
  to: string;
  amount: number;
  at: StreamId;
}
interface CreditEntry {
  ledger: string;
  from: string;
  amount: number;
  debit: StreamId;
  at: StreamId;
}
interface RefundEntry {
  ledger: string;
  amount: number;
  at: StreamId;
}

interface TransferRecord {
  transfer: string;
  /** Its request's entry (or its first entry read, until the request is): how old it is. */
  since: StreamId;
  request?: { from: string; to: string; amount: number; at: StreamId };
  debit?: DebitEntry;
  declined?: { ledger: string; at: StreamId };
  credit?: CreditEntry;
  /** The credit was read before its debit: it waits on the source ledger, out of the balances. */
  creditAhead?: boolean;
  refund?: RefundEntry;
  /** Its outcome on the transfers stream; `refund` is the refund a rejection names. */
  outcome?: { kind: 'completed' | 'rejected'; at: StreamId; refund?: StreamId };
  /** Outcome checks waiting for a ledger to reach the entries the outcome names. */
  waits: number;
  /** Reconciled: only its ID is kept from now on (a wait that still holds the record ignores it). */
  reconciled?: boolean;
  /**
   * Requested before the compaction point: its request and outcome were archived and trimmed, so
   * only its ledger entries are checked (each against the others), and it settles on them.
   */
  compacted?: boolean;
}

/** A reconciled transfer (its outcome and both ledgers agree): only its ID is kept. */
const RECONCILED = 0;
/**
 * A transfer rejected with nothing to refund whose DebitDeclined was not read (its ledger may be
 * read after the transfers stream, or it has none: the debit was refused): one may still come.
 */
const REJECTED_UNDECLINED = 1;
type Reconciled = typeof RECONCILED | typeof REJECTED_UNDECLINED;
const isReconciled = (record: TransferRecord | Reconciled | undefined): record is Reconciled =>
  typeof record === 'number';

type LedgerWait =
  | { kind: 'debit-of-credit'; record: TransferRecord; mark: number }
  | { kind: 'outcome'; entry: 'debit' | 'credit' | 'refund'; record: TransferRecord; at: StreamId; mark: number };

/**
 * One ledger as the audit folds it: the ledger's own fold (ledger.ts, the one that says its balance,
 * its seq and its gaps), and beside it what only the audit needs.
 */
interface LedgerFold {
  account: string;
  ledger: Ledger;
  /** The AccountOpened's ID, as the state hash must name it. */
  opened: StreamId | undefined;
  /** Entries that each have their step in the steps hash: Issued, Debited, DebitDeclined, Credited, Refunded. */
  steps: number;
  /**
   * The last entry whose checks are done: set after an entry's checks, so a check made while an
   * entry is applied (a credit naming a debit on its own ledger) does not count that entry as read.
   */
  position: StreamId | undefined;
  waits: OrderedWaits<StreamIdKey, LedgerWait> | undefined;
  probe: { kept: KeptState; lastId: StreamId; mark: number } | undefined;
}

export function createAudit(options: AuditOptions = {}): Audit {
  const stuckAfterMs = options.stuckAfterMs ?? STUCK_AFTER_MS;
  const clockMarginMs = options.clockMarginMs ?? CLOCK_MARGIN_MS;
  const reconciledRemembered = options.reconciledRemembered ?? RECONCILED_REMEMBERED;
  let reconciled = 0;
  let forgotten = 0;
  let marks = 0;
  let openings = 0;
  /** Every balance, summed (what is ahead of the cut included). */
  let total = 0;
  /** Money debited and not yet credited or refunded, as the figures show it. */
  const inFlight = { amount: 0, transfers: 0 };
  /** Credits read before their debits, out of the balances until the debits are read. */
  const ahead = { amount: 0, entries: 0 };
  /** Transfers requested, and settled either way. */
  const outcomes = { requested: 0, completed: 0, rejected: 0 };
  let violations = 0;
  const listed: Violation[] = [];
  const reported = new Set<string>();
  const folds = new Map<string, LedgerFold>();
  const transfers = new Map<string, TransferRecord | Reconciled>();
  /** Transfers pending (not reconciled yet), oldest first (insertion order): what stuck is read from. */
  const pending = new Map<string, TransferRecord>();
  /** The last compaction's point: transfers requested before it were archived and trimmed. */
  let compaction: StreamId | undefined;
  /**
   * Whether a ledger entry at `at` lies before the compaction point. Entry IDs of two streams
   * compare by their time only (the part after the dash counts within one stream): compaction.ts
   * puts the point in a millisecond after every entry of the transfers it archived.
   */
  const isCompacted = (at: StreamId) => compaction !== undefined && streamIdMillis(at) < streamIdMillis(compaction);
  /** How far the transfers stream is read: its last entry read, or a time the books learnt of (readThrough). */
  let transfersLast: StreamId = '0-0';
  let transfersThrough = 0;
  const throughTransfers = () => Math.max(transfersThrough, streamIdMillis(transfersLast));
  /** Ledger entries naming a transfer not requested (yet), by the time the transfers stream must reach. */
  const unrequested = orderedWaits<number, { record: TransferRecord; ledger: string; at: StreamId }>(byNumber);

  const violation = (found: Violation) => {
    violations++;
    if (listed.length < LISTED) listed.push(found);
  };
  const violationOnce = (key: string, found: Violation) => {
    if (reported.has(key)) return;
    reported.add(key);
    violation(found);
  };

  const supply = createSupplyAudit(violation, clockMarginMs);

  /** Ledgers with at least one entry applied. */
  /** The ledgers with an entry applied, in the order of their first: what the state check walks. */
  const ledgerNames: string[] = [];
  const ledgers = new Map<string, Ledger>();
  const foldOf = (account: string): LedgerFold => {
    let fold = folds.get(account);
    if (!fold) {
      fold = {
        account,
        ledger: emptyLedger(),
        opened: undefined,
        steps: 0,
        position: undefined,
        waits: undefined,
        probe: undefined,
      };
      folds.set(account, fold);
    }
    return fold;
  };

  /**
   * Folds the entry into the ledger's own fold (evolveLedger), and reports what that fold saw: a
   * number not the one due (a gap), and a balance moved below zero.
   */
  const evolve = (fold: LedgerFold, event: LedgerEvent, id: StreamId) => {
    const ledger = fold.ledger;
    const { seq: last, gaps, balance } = ledger;
    evolveLedger(ledger, event, id);
    const account = fold.account;
    if (ledger.gaps > gaps) {
      const seq = event.data.seq;
      const expected = last + 1;
      violation({
        ledger: account,
        at: id,
        reason:
          seq === undefined
            ? `an entry without a seq after numbered ones (${event.type})`
            : seq > expected
              ? `seq jumps from ${last} to ${seq}: entries ${expected}${seq - 1 > expected ? `-${seq - 1}` : ''} are missing (deleted, or unreadable)`
              : `seq ${seq} where ${expected} was due: an entry repeated, reordered or rewritten`,
      });
    }
    const moved = ledger.balance - balance;
    total += moved;
    if (moved !== 0 && ledger.balance < 0) {
      violation({ ledger: account, at: id, reason: `the balance went below zero (${ledger.balance})` });
    }
  };

  /**
   * The record of `transfer`, made when this is its first entry read (at `at`); RECONCILED once
   * reconciled. The transfer is kept as a key long after its entry: a copy, not a slice of the
   * entry's text (ledger-fast-path.ts).
   */
  const recordOf = (transfer: string, at: StreamId): TransferRecord | Reconciled => {
    let record = transfers.get(transfer);
    if (record === undefined) {
      const key = ownCopy(transfer);
      record = { transfer: key, since: at, waits: 0 };
      transfers.set(key, record);
      pending.set(key, record);
    }
    return record;
  };

  const maybeReconcile = (record: TransferRecord) => {
    if (record.reconciled || (!record.outcome && !record.compacted) || record.waits > 0 || record.creditAhead) return;
    if (record.debit ? !record.credit && !record.refund : record.credit) return;
    record.reconciled = true;
    const undeclined = record.outcome?.kind === 'rejected' && !record.debit && !record.declined;
    transfers.set(record.transfer, undeclined ? REJECTED_UNDECLINED : RECONCILED);
    pending.delete(record.transfer);
    if (++reconciled > reconciledRemembered) forgetReconciled();
  };

  /** Forgets the oldest tenth of the reconciled transfers remembered (oldest first: the map's order). */
  const forgetReconciled = () => {
    let left = Math.ceil(reconciledRemembered / 10);
    for (const [transfer, record] of transfers) {
      if (!isReconciled(record)) continue;
      transfers.delete(transfer);
      reconciled--;
      forgotten++;
      if (--left === 0) break;
    }
  };
  const notRequested = () =>
    forgotten === 0
      ? 'names a transfer that was never requested'
      : `names a transfer that was never requested, or one reconciled before the last ${reconciledRemembered} the audit remembers`;

  /** Holds a check until ledger `account` has been folded past `at`; makes it now when it is. */
  const waitOn = (account: string, at: StreamId, wait: LedgerWait) => {
    const fold = foldOf(account);
    if (fold.position !== undefined && compareStreamIds(fold.position, at) >= 0) {
      resolve(fold, wait, at);
      return;
    }
    fold.waits ??= orderedWaits<StreamIdKey, LedgerWait>(compareStreamIdKeys);
    fold.waits.add(streamIdKey(at), wait);
  };

  /** A check whose ledger is past the position it waited for (or ends before it). */
  const resolve = (fold: LedgerFold, wait: LedgerWait, at: StreamId) => {
    const { record } = wait;
    const transfer = record.transfer;
    if (wait.kind === 'debit-of-credit') {
      if (!record.creditAhead) return;
      const credit = record.credit as CreditEntry;
      record.creditAhead = false;
      ahead.amount -= credit.amount;
      ahead.entries--;
      violation({
        ledger: credit.ledger,
        transfer,
        at: credit.at,
        reason: `credited ${credit.amount} for a debit at ${credit.debit} of ${fold.account}'s ledger, which does not hold it`,
      });
      return;
    }
    record.waits--;
    const found = record[wait.entry];
    if (!found || found.at !== at || found.ledger !== fold.account) {
      const outcome = record.outcome?.kind ?? 'settled';
      violation({
        ledger: fold.account,
        transfer,
        at,
        reason: `${outcome} naming its ${wait.entry} at ${at}, but ${fold.account}'s ledger holds ${
          found ? `its ${wait.entry} at ${found.at} of ${found.ledger}'s ledger` : `no ${wait.entry} of it`
        }`,
      });
    }
    maybeReconcile(record);
  };

  /** Checks a ledger entry of a requested transfer against its request. */
  const matchesRequest = (record: TransferRecord, entry: 'debit' | 'declined' | 'credit' | 'refund') => {
    const request = record.request;
    const found = record[entry];
    if (!request || !found) return;
    let problem: string | undefined;
    if (entry === 'credit') {
      const credit = found as CreditEntry;
      if (credit.ledger !== request.to || credit.from !== request.from || credit.amount !== request.amount) {
        problem = `credited ${credit.amount} to ${credit.ledger} from ${credit.from}`;
      }
    } else if (found.ledger !== request.from) {
      problem = `its ${entry} is on ${found.ledger}'s ledger`;
    } else if (entry === 'debit' || entry === 'refund') {
      const moved = found as DebitEntry | RefundEntry;
      const to = entry === 'debit' ? (found as DebitEntry).to : request.to;
      if (moved.amount !== request.amount || to !== request.to) {
        problem = `its ${entry} is of ${moved.amount} for ${to}`;
      }
    }
    if (problem) {
      violation({
        ledger: found.ledger,
        transfer: record.transfer,
        at: found.at,
        reason: `requested as ${request.amount} from ${request.from} to ${request.to}, but ${problem}`,
      });
    }
  };

  /** A ledger entry of a transfer: waits for its request when the transfers stream has not shown it. */
  const expectRequest = (record: TransferRecord, ledger: string, at: StreamId) => {
    if (record.request) return;
    if (isCompacted(at)) {
      record.compacted = true;
      return;
    }
    const due = streamIdMillis(at) + clockMarginMs;
    if (due <= throughTransfers()) {
      violation({ ledger, transfer: record.transfer, at, reason: notRequested() });
    } else {
      unrequested.add(due, { record, ledger, at });
    }
  };

  const settledAgain = (ledger: string, transfer: string, at: StreamId, what: string) =>
    violation({ ledger, transfer, at, reason: `${what} after the transfer had settled` });

  function applyLedgerEntry(fold: LedgerFold, event: LedgerEvent, id: StreamId): void {
    const account = fold.account;
    switch (event.type) {
      case 'AccountOpened': {
        if (fold.opened !== undefined) {
          violation({ ledger: account, at: id, reason: `opened a second time (first at ${fold.opened})` });
          return;
        }
        fold.opened = id;
        const amount = event.data.amount ?? 0;
        if (amount > 0) {
          openings += amount;
          violation({
            ledger: account,
            at: id,
            reason: `opened with ${amount} not issued by the bank (an AccountOpened v1)`,
          });
        }
        return;
      }
      case 'Issued': {
        fold.steps++;
        supply.issuedInto(account, event.data.issuance, event.data.amount, id);
        return;
      }
      case 'Debited': {
        const { transfer, to, amount } = event.data;
        fold.steps++;
        const record = recordOf(transfer, id);
        if (record === REJECTED_UNDECLINED) {
          violation({ ledger: account, transfer, at: id, reason: 'debited, yet rejected with nothing to refund' });
          return;
        }
        if (isReconciled(record)) {
          settledAgain(account, transfer, id, `debited ${amount}`);
          return;
        }
        const prior = record.debit ?? record.declined;
        if (prior) {
          violation({ ledger: account, transfer, at: id, reason: `debited a second time (first at ${prior.at})` });
          return;
        }
        record.debit = { ledger: account, to, amount, at: id };
        matchesRequest(record, 'debit');
        expectRequest(record, account, id);
        if (record.outcome?.kind === 'rejected' && record.outcome.refund === undefined) {
          violation({ ledger: account, transfer, at: id, reason: 'debited, yet rejected with nothing to refund' });
        }
        const credit = record.credit;
        if (credit && record.creditAhead) {
          record.creditAhead = false;
          ahead.amount -= credit.amount;
          ahead.entries--;
          matchCredit(record, record.debit, credit);
        } else {
          inFlight.amount += amount;
          inFlight.transfers++;
        }
        maybeReconcile(record);
        return;
      }
      case 'DebitDeclined': {
        const { transfer } = event.data;
        fold.steps++;
        const record = recordOf(transfer, id);
        if (record === REJECTED_UNDECLINED) {
          // Its rejection was read before its ledger: this is the decline it stands for.
          transfers.set(transfer, RECONCILED);
          return;
        }
        if (isReconciled(record)) {
          settledAgain(account, transfer, id, 'its debit declined');
          return;
        }
        const prior = record.debit ?? record.declined;
        if (prior) {
          violation({
            ledger: account,
            transfer,
            at: id,
            reason: `its debit decided a second time (first at ${prior.at})`,
          });
          return;
        }
        record.declined = { ledger: account, at: id };
        matchesRequest(record, 'declined');
        expectRequest(record, account, id);
        maybeReconcile(record);
        return;
      }
      case 'Credited': {
        const { transfer, from, amount, debit } = event.data;
        fold.steps++;
        const record = recordOf(transfer, id);
        if (isReconciled(record)) {
          settledAgain(account, transfer, id, `credited ${amount}`);
          return;
        }
        if (record.credit) {
          violation({
            ledger: account,
            transfer,
            at: id,
            reason: `credited a second time (first at ${record.credit.at})`,
          });
          return;
        }
        if (record.refund) {
          violation({
            ledger: account,
            transfer,
            at: id,
            reason: `credited after its debit was refunded (${record.refund.at})`,
          });
          return;
        }
        if (record.outcome?.kind === 'rejected') {
          violation({ ledger: account, transfer, at: id, reason: `credited, yet rejected (${record.outcome.at})` });
        }
        const credit = { ledger: account, from, amount, debit, at: id };
        record.credit = credit;
        matchesRequest(record, 'credit');
        expectRequest(record, account, id);
        if (record.debit) {
          inFlight.amount -= record.debit.amount;
          inFlight.transfers--;
          matchCredit(record, record.debit, credit);
        } else {
          record.creditAhead = true;
          ahead.amount += amount;
          ahead.entries++;
          waitOn(from, debit, { kind: 'debit-of-credit', record, mark: marks });
        }
        maybeReconcile(record);
        return;
      }
      case 'Refunded': {
        const { transfer, amount, to } = event.data;
        fold.steps++;
        const record = recordOf(transfer, id);
        if (isReconciled(record)) {
          settledAgain(account, transfer, id, `refunded ${amount}`);
          return;
        }
        const debit = record.debit;
        const problem = record.refund
          ? `refunded a second time (first at ${record.refund.at})`
          : !debit
            ? `refunded ${amount} without a debit on this ledger`
            : record.credit
              ? `refunded on top of its credit (${record.credit.at})`
              : debit.ledger !== account || debit.amount !== amount
                ? `refunded ${amount}, its debit was ${debit.amount} on ${debit.ledger}'s ledger`
                : debit.to !== to
                  ? `refunded for ${to}, its debit was for ${debit.to}`
                  : undefined;
        if (problem) {
          violation({ ledger: account, transfer, at: id, reason: problem });
          return;
        }
        record.refund = { ledger: account, amount, at: id };
        inFlight.amount -= (debit as DebitEntry).amount;
        inFlight.transfers--;
        if (record.outcome?.kind === 'completed') {
          violation({ ledger: account, transfer, at: id, reason: `refunded, yet completed (${record.outcome.at})` });
        }
        maybeReconcile(record);
        return;
      }
      default:
        assertNever(event);
    }
  }

  const matchCredit = (record: TransferRecord, debit: DebitEntry, credit: CreditEntry) => {
    if (
      debit.at !== credit.debit ||
      debit.ledger !== credit.from ||
      debit.amount !== credit.amount ||
      debit.to !== credit.ledger
    ) {
      violation({
        ledger: credit.ledger,
        transfer: record.transfer,
        at: credit.at,
        reason: `debited ${debit.amount} from ${debit.ledger} for ${debit.to} at ${debit.at}, credited ${credit.amount} to ${credit.ledger} from ${credit.from} for a debit at ${credit.debit}`,
      });
    }
  };

  const judgeUnrequested = () => {
    if (unrequested.size === 0) return;
    for (const { record, ledger, at } of unrequested.takeUpTo(throughTransfers())) {
      if (record.request || record.reconciled) continue;
      if (isCompacted(at)) {
        record.compacted = true;
        maybeReconcile(record);
      } else {
        violation({ ledger, transfer: record.transfer, at, reason: notRequested() });
      }
    }
  };

  const compareNow = (fold: LedgerFold, kept: KeptState, lastId: StreamId, mark: number) => {
    const { state, steps } = kept;
    const account = fold.account;
    // Once per ledger and field: the same difference is seen again at every later look.
    const differs = (field: string, keptValue: string | undefined, folded: string | number | undefined) =>
      violationOnce(`${account}\n${field}`, {
        ledger: account,
        at: lastId,
        reason: `the script-kept ${field} is ${keptValue ?? 'missing'}, the fold of the stream says ${folded ?? 'none'} (at ${lastId})`,
      });
    if (state.opened !== fold.opened) differs('opened', state.opened, fold.opened);
    const { balance, seq, numbered } = fold.ledger;
    if (state.balance !== String(balance)) differs('balance', state.balance, balance);
    // A ledger opened before numbering and untouched since keeps no seq: its entries count 1..n.
    if (state.seq !== undefined || numbered) {
      if (state.seq !== String(seq)) differs('seq', state.seq, seq);
    }
    if (kept.compactedBefore === undefined && steps < fold.steps) {
      violationOnce(`${account}\nsteps`, {
        ledger: account,
        at: lastId,
        reason: `the steps hash holds ${steps} steps, the stream ${fold.steps} entries that each have one (at ${lastId})`,
      });
    }
    // Checks waiting for entries after the stream's end, registered before it was read: those
    // entries were written before (a step precedes what names it), so they are not there.
    for (const wait of fold.waits?.takeAfter(streamIdKey(lastId), (w) => w.mark <= mark) ?? []) {
      resolve(fold, wait, wait.kind === 'outcome' ? wait.at : lastId);
    }
  };

  return {
    applyLedger(account, event, id) {
      marks++;
      const fold = foldOf(account);
      if (fold.ledger.events === 0) {
        ledgerNames.push(fold.account);
        ledgers.set(fold.account, fold.ledger);
      }
      // The balance and the numbering first (a gap, a balance below zero), then the entry's checks.
      evolve(fold, event, id);
      applyLedgerEntry(fold, event, id);
      fold.position = id;
      if (fold.waits && fold.waits.size > 0) {
        for (const wait of fold.waits.takeUpTo(streamIdKey(id))) {
          resolve(fold, wait, wait.kind === 'outcome' ? wait.at : id);
        }
      }
      const probe = fold.probe;
      if (probe) {
        const reached = compareStreamIds(id, probe.lastId);
        if (reached >= 0) fold.probe = undefined;
        if (reached === 0) compareNow(fold, probe.kept, probe.lastId, probe.mark);
      }
    },

    applyTransfer(event, id) {
      marks++;
      transfersLast = id;
      const transfer = event.data.transfer;
      if (event.type === 'TransferRequested') {
        const { from, to, amount } = event.data;
        let record = transfers.get(transfer);
        if (isReconciled(record) || record?.request) {
          violation({ transfer, at: id, reason: 'requested a second time' });
        } else {
          if (record) {
            // Read after some of its ledger entries: it takes its place among the requests.
            pending.delete(transfer);
            pending.set(transfer, record);
            record.since = id;
            record.compacted = false;
            record.request = { from, to, amount, at: id };
            for (const entry of ['debit', 'declined', 'credit', 'refund'] as const) matchesRequest(record, entry);
          } else {
            record = recordOf(transfer, id) as TransferRecord;
            record.request = { from, to, amount, at: id };
          }
          outcomes.requested++;
        }
        judgeUnrequested();
        return;
      }
      const record = transfers.get(transfer);
      if (record === undefined || (!isReconciled(record) && !record.request)) {
        violation({ transfer, at: id, reason: `${event.type} of a transfer that was never requested` });
        judgeUnrequested();
        return;
      }
      if (isReconciled(record) || record.outcome) {
        violation({ transfer, at: id, reason: `${event.type} of a transfer already settled` });
        judgeUnrequested();
        return;
      }
      const { from, to } = record.request as NonNullable<TransferRecord['request']>;
      if (event.type === 'TransferCompleted') {
        outcomes.completed++;
        record.outcome = { kind: 'completed', at: id };
        record.waits += 2;
        waitOn(from, event.data.debit, { kind: 'outcome', entry: 'debit', record, at: event.data.debit, mark: marks });
        waitOn(to, event.data.credit, { kind: 'outcome', entry: 'credit', record, at: event.data.credit, mark: marks });
      } else {
        outcomes.rejected++;
        const refund = event.data.refund;
        record.outcome = { kind: 'rejected', at: id, refund };
        if (refund !== undefined) {
          record.waits++;
          waitOn(from, refund, { kind: 'outcome', entry: 'refund', record, at: refund, mark: marks });
        } else if (record.debit) {
          violation({
            ledger: record.debit.ledger,
            transfer,
            at: id,
            reason: `rejected with nothing to refund, yet debited at ${record.debit.at}`,
          });
        }
        if (record.credit) {
          violation({
            ledger: record.credit.ledger,
            transfer,
            at: id,
            reason: `rejected, yet credited at ${record.credit.at}`,
          });
        }
      }
      maybeReconcile(record);
      judgeUnrequested();
    },

    applySupply(event, id) {
      marks++;
      supply.applySupply(event, id);
    },

    readThrough(stream, ms) {
      if (stream === 'transfers') {
        transfersThrough = Math.max(transfersThrough, ms);
        judgeUnrequested();
      } else {
        supply.readThrough(ms);
      }
    },

    compactedBefore(point) {
      if (compaction !== undefined && compareStreamIds(point, compaction) <= 0) return;
      compaction = point;
      for (const record of [...pending.values()]) {
        if (!record.request && isCompacted(record.since)) {
          record.compacted = true;
          maybeReconcile(record);
        }
      }
    },

    mark: () => marks,

    position: (account) => folds.get(account)?.position,

    ledgerNames: () => ledgerNames,
    ledgers,

    compareKept(account, kept, lastId, mark) {
      const fold = folds.get(account);
      if (!fold) return;
      const at = fold.position === undefined ? -1 : compareStreamIds(fold.position, lastId);
      if (at === 0) compareNow(fold, kept, lastId, mark);
      else if (at < 0) fold.probe = { kept, lastId, mark };
    },

    keptConsumed(account, lastId) {
      const fold = folds.get(account);
      const probe = fold?.probe;
      if (!fold || !probe || probe.lastId !== lastId) return;
      fold.probe = undefined;
      compareNow(fold, probe.kept, probe.lastId, probe.mark);
    },

    violationOnce,

    figures(now = Date.now()) {
      const stuck: StuckItem[] = [];
      let stuckTransfers = 0;
      for (const record of pending.values()) {
        const ageMs = now - streamIdMillis(record.since);
        if (ageMs < stuckAfterMs) break;
        stuckTransfers++;
        if (stuck.length < LISTED) stuck.push({ transfer: record.transfer, ageMs, waiting: waitingFor(record) });
      }
      const stuckIssuances = supply.stuck(now, stuckAfterMs, stuck, LISTED);
      const balances = total - ahead.amount - supply.ahead.amount;
      const supplied = supply.issued + openings;
      return {
        conserved: violations === 0 && balances + inFlight.amount + supply.issuing.amount === supplied,
        supply: { issued: supply.issued, openings, total: supplied },
        balances,
        inFlight: { ...inFlight },
        issuing: { ...supply.issuing },
        ahead: { amount: ahead.amount + supply.ahead.amount, entries: ahead.entries + supply.ahead.entries },
        ledgers: ledgerNames.length,
        transfers: { ...outcomes, pending: pending.size },
        stuck: { afterMs: stuckAfterMs, transfers: stuckTransfers, issuances: stuckIssuances, first: stuck },
        violations: { count: violations, first: [...listed] },
        ...(options.checkpoint ? { checkpoint: options.checkpoint() } : {}),
      };
    },
  };
}

/** What an unsettled transfer waits for, in words. */
function waitingFor(record: TransferRecord): string {
  if (!record.request && !record.compacted) return 'its request on the transfers stream';
  if (record.creditAhead) return 'its debit';
  if (record.debit && !record.credit && !record.refund) return 'a credit or a refund';
  if (!record.outcome && !record.compacted) return 'an outcome';
  return 'its ledgers to reach the entries its outcome names';
}

const byNumber = (a: number, b: number) => a - b;

function assertNever(value: never): never {
  throw new Error(`unhandled ledger event ${JSON.stringify(value)}`);
}
