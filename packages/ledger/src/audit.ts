/**
 * The bank's audit of itself, folded from every ledger: the sum of all balances plus the money in
 * flight (debited, not yet credited or refunded) must equal the sum of the opening balances,
 * exactly, and no balance may ever have been below zero.
 *
 * Ledgers are separate streams read at their own pace, so the audit works on a consistent cut:
 * a credit names the debit it pays out (its entry ID on the source ledger). A credit whose debit
 * the audit has not reached yet is "ahead of the cut" and left out until it has; a credit whose
 * source ledger is already past that ID without such a debit is a violation. So is a second
 * credit or a refund of a settled transfer, a credit of another amount or to another account than
 * its debit, a refund without a debit, a debit of a transfer twice.
 */
import { compareStreamIds, type LedgerEvent, type StreamId } from '@microbank/events';

/** The violations kept for reading (their count is kept whole). */
const VIOLATIONS_KEPT = 20;

export interface AuditFigures {
  /** The opening balances of every ledger, summed. */
  openings: number;
  /** Every balance within the cut, summed. */
  balances: number;
  /** Debited and not yet credited or refunded. */
  inFlight: number;
  /** Transfers whose money is in flight. */
  transfersInFlight: number;
  /** Credits left out of the balances because their debit is past the cut. */
  ahead: number;
  /** Ledgers opened. */
  accounts: number;
  violations: number;
  /** The first few violations, as sentences. */
  firstViolations: string[];
  /** balances + inFlight = openings, and no violation. */
  conserved: boolean;
}

interface Debit {
  from: string;
  to: string;
  amount: number;
}

interface AheadCredit {
  to: string;
  amount: number;
  debit: StreamId;
}

export interface Audit {
  /** Folds one event of `account`'s ledger, at `id`. */
  apply(account: string, event: LedgerEvent, id: StreamId): void;
  figures(): AuditFigures;
}

export function createAudit(): Audit {
  let openings = 0;
  let total = 0;
  let inFlight = 0;
  let ahead = 0;
  let violations = 0;
  const firstViolations: string[] = [];
  const balances = new Map<string, number>();
  const unresolved = new Map<string, Debit>();
  /** Per source account: credits whose debit the audit has not reached. */
  const aheadCredits = new Map<string, AheadOfSource>();
  /** How far the audit has read each ledger. */
  const positions = new Map<string, StreamId>();

  const violation = (sentence: string) => {
    violations++;
    if (firstViolations.length < VIOLATIONS_KEPT) firstViolations.push(sentence);
  };
  const move = (account: string, amount: number, at: StreamId) => {
    const balance = (balances.get(account) ?? 0) + amount;
    balances.set(account, balance);
    total += amount;
    if (balance < 0) violation(`${account}'s balance went below zero (${balance}) at ${at}`);
  };

  /** A credit of `transfer` to `to` matched with its debit: both must agree. */
  const settle = (transfer: string, debit: Debit, to: string, from: string, amount: number) => {
    if (debit.to !== to || debit.from !== from || debit.amount !== amount) {
      violation(
        `transfer ${transfer}: debited ${debit.amount} from ${debit.from} for ${debit.to}, credited ${amount} from ${from} to ${to}`,
      );
    }
  };

  /** Credits from `account` that claim a debit at or before `position` it does not hold. */
  const checkAheadOf = (account: string, position: StreamId) => {
    const credits = aheadCredits.get(account);
    if (!credits) return;
    for (const { transfer, credit } of credits.passedBy(position)) {
      ahead -= credit.amount;
      violation(
        `transfer ${transfer}: ${credit.to} was credited ${credit.amount} for a debit ${account} does not hold`,
      );
    }
    if (credits.size === 0) aheadCredits.delete(account);
  };

  return {
    apply(account, event, id) {
      switch (event.type) {
        case 'AccountOpened':
          if (balances.has(account)) {
            violation(`${account}'s ledger was opened twice (${id})`);
            break;
          }
          openings += event.data.amount;
          move(account, event.data.amount, id);
          break;
        case 'Debited': {
          const { transfer, to, amount } = event.data;
          if (unresolved.has(transfer)) violation(`transfer ${transfer} was debited twice (${id})`);
          move(account, -amount, id);
          const early = aheadCredits.get(account)?.take(transfer);
          if (early) {
            ahead -= early.amount;
            settle(transfer, { from: account, to, amount }, early.to, account, early.amount);
          } else {
            unresolved.set(transfer, { from: account, to, amount });
            inFlight += amount;
          }
          break;
        }
        case 'Credited': {
          const { transfer, from, amount, debit } = event.data;
          move(account, amount, id);
          const debited = unresolved.get(transfer);
          if (debited) {
            unresolved.delete(transfer);
            inFlight -= debited.amount;
            settle(transfer, debited, account, from, amount);
          } else {
            let credits = aheadCredits.get(from);
            if (!credits) {
              credits = aheadOfSource();
              aheadCredits.set(from, credits);
            }
            if (!credits.add(transfer, { to: account, amount, debit })) {
              violation(`transfer ${transfer} was credited twice (${id})`);
            }
            ahead += amount;
            // The source ledger may already be past the debit this credit names.
            const source = positions.get(from);
            if (source !== undefined) checkAheadOf(from, source);
          }
          break;
        }
        case 'Refunded': {
          const { transfer, amount } = event.data;
          move(account, amount, id);
          const debited = unresolved.get(transfer);
          if (!debited || debited.from !== account || debited.amount !== amount) {
            violation(`transfer ${transfer}: ${account} was refunded ${amount} for no debit in flight (${id})`);
          } else {
            unresolved.delete(transfer);
            inFlight -= amount;
          }
          break;
        }
        case 'DebitDeclined':
          break;
      }
      positions.set(account, id);
      checkAheadOf(account, id);
    },
    figures() {
      const balancesInCut = total - ahead;
      return {
        openings,
        balances: balancesInCut,
        inFlight,
        transfersInFlight: unresolved.size,
        ahead,
        accounts: balances.size,
        violations,
        firstViolations: [...firstViolations],
        conserved: violations === 0 && balancesInCut + inFlight === openings,
      };
    },
  };
}

/**
 * The credits waiting for one source ledger to reach their debits, in the order of those debits,
 * so that the audit finds the ones the ledger passed without holding their debit in O(1) per
 * event, not by walking all of them (a replay that reads the destination ledger first would
 * otherwise be quadratic).
 */
interface AheadOfSource {
  readonly size: number;
  /** False when the transfer already has a credit waiting. */
  add(transfer: string, credit: AheadCredit): boolean;
  /** The credit waiting for `transfer`'s debit, taken out. */
  take(transfer: string): AheadCredit | undefined;
  /** Takes out and returns the credits whose debit is at or before `position`. */
  passedBy(position: StreamId): Array<{ transfer: string; credit: AheadCredit }>;
}

function aheadOfSource(): AheadOfSource {
  const waiting = new Map<string, AheadCredit>();
  /** By debit ID; entries already taken are skipped when reached (lazy removal). */
  const queue: Array<{ transfer: string; debit: StreamId }> = [];
  let head = 0;
  return {
    get size() {
      return waiting.size;
    },
    add(transfer, credit) {
      if (waiting.has(transfer)) return false;
      waiting.set(transfer, credit);
      // Credits mostly arrive in their debits' order: find the place from the end.
      let at = queue.length;
      while (at > head && compareStreamIds((queue[at - 1] as { debit: StreamId }).debit, credit.debit) > 0) at--;
      queue.splice(at, 0, { transfer, debit: credit.debit });
      return true;
    },
    take(transfer) {
      const credit = waiting.get(transfer);
      waiting.delete(transfer);
      return credit;
    },
    passedBy(position) {
      const passed: Array<{ transfer: string; credit: AheadCredit }> = [];
      while (head < queue.length && compareStreamIds((queue[head] as { debit: StreamId }).debit, position) <= 0) {
        const { transfer } = queue[head] as { transfer: string };
        head++;
        const credit = waiting.get(transfer);
        if (credit) {
          waiting.delete(transfer);
          passed.push({ transfer, credit });
        }
      }
      if (head > 1_024 && head * 2 > queue.length) {
        queue.splice(0, head);
        head = 0;
      }
      return passed;
    },
  };
}
