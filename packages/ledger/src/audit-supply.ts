/**
 * The audit's side of the money supply: every Issued entry of a ledger must match the
 * SupplyIssued of its issuance on the supply stream (account and amount), once. The streams are
 * read at their own pace: an Issued read before its SupplyIssued is left out of the balances
 * ("ahead") until it is, and is a violation once the supply stream has been read through its time
 * plus the clocks' margin without it; a SupplyIssued whose Issued is not read yet is money
 * "issuing", on its way into its ledger (stuck after the limit).
 */
import type { SupplyEvent } from '@microbank/events';
import { type StreamId, streamIdMillis } from '@microbank/streams';
import type { StuckItem, Violation } from './audit-figures.ts';
import { orderedWaits } from './audit-waits.ts';

export interface SupplyAudit {
  /** Money issued by the bank, summed from the supply stream. */
  readonly issued: number;
  readonly issuing: { amount: number; issuances: number };
  readonly ahead: { amount: number; entries: number };
  /** An Issued entry of `ledger` (its amount is in the ledger's balance already). */
  issuedInto(ledger: string, issuance: string, amount: number, at: StreamId): void;
  applySupply(event: SupplyEvent, id: StreamId): void;
  /** Everything appended to the supply stream up to `ms` (its clock) has been applied. */
  readThrough(ms: number): void;
  /** Adds the issuances stuck after `afterMs` to `list` (up to its limit); returns how many there are. */
  stuck(now: number, afterMs: number, list: StuckItem[], limit: number): number;
}

interface IssuanceRecord {
  issuance: string;
  /** From the SupplyIssued. */
  supplied?: { account: string; amount: number; at: StreamId };
  /** From the ledger's Issued. */
  issued?: { ledger: string; amount: number; at: StreamId };
  /** The Issued was read before its SupplyIssued: out of the balances until it is. */
  issuedAhead?: boolean;
}

/** A matched issuance: only its ID is kept. */
const MATCHED = 0;

export function createSupplyAudit(violation: (found: Violation) => void, clockMarginMs: number): SupplyAudit {
  let issued = 0;
  /** Money issued on the supply stream and not yet in its ledger (the issuances: `unmatched`). */
  let issuingAmount = 0;
  const ahead = { amount: 0, entries: 0 };
  const issuances = new Map<string, IssuanceRecord | typeof MATCHED>();
  /** Issued on the supply stream, not yet in a ledger, oldest first. */
  const unmatched = new Map<string, IssuanceRecord>();
  let supplyThrough = 0;
  /** Issued entries whose issuance is not on the supply stream (yet), by the time it must reach. */
  const unissued = orderedWaits<number, IssuanceRecord>((a, b) => a - b);

  const match = (record: IssuanceRecord) => {
    const { supplied, issued: into } = record as Required<IssuanceRecord>;
    if (supplied.account !== into.ledger || supplied.amount !== into.amount) {
      violation({
        ledger: into.ledger,
        issuance: record.issuance,
        at: into.at,
        reason: `issued ${into.amount} into ${into.ledger}, the supply stream issued ${supplied.amount} to ${supplied.account}`,
      });
    }
    issuances.set(record.issuance, MATCHED);
    unmatched.delete(record.issuance);
  };

  const judgeUnissued = () => {
    for (const record of unissued.takeUpTo(supplyThrough)) {
      if (!record.issuedAhead || !record.issued) continue;
      const { ledger, amount, at } = record.issued;
      record.issuedAhead = false;
      ahead.amount -= amount;
      ahead.entries--;
      violation({
        ledger,
        issuance: record.issuance,
        at,
        reason: `issued ${amount} for an issuance the supply stream does not hold`,
      });
    }
  };

  return {
    get issued() {
      return issued;
    },
    get issuing() {
      return { amount: issuingAmount, issuances: unmatched.size };
    },
    ahead,
    issuedInto(ledger, issuance, amount, at) {
      let record = issuances.get(issuance);
      if (record === MATCHED || record?.issued) {
        violation({ ledger, issuance, at, reason: `issued a second time (${amount})` });
        return;
      }
      if (!record) {
        record = { issuance };
        issuances.set(issuance, record);
      }
      record.issued = { ledger, amount, at };
      const supplied = record.supplied;
      if (!supplied) {
        record.issuedAhead = true;
        ahead.amount += amount;
        ahead.entries++;
        unissued.add(streamIdMillis(at) + clockMarginMs, record);
        judgeUnissued();
        return;
      }
      issuingAmount -= supplied.amount;
      match(record);
    },
    applySupply(event, id) {
      supplyThrough = Math.max(supplyThrough, streamIdMillis(id));
      const { issuance, account, amount } = event.data;
      issued += amount;
      let record = issuances.get(issuance);
      if (record === MATCHED || record?.supplied) {
        violation({
          issuance,
          at: id,
          reason: `recorded a second time on the supply stream (${amount} to ${account})`,
        });
      } else {
        if (!record) {
          record = { issuance };
          issuances.set(issuance, record);
        }
        record.supplied = { account, amount, at: id };
        if (record.issued) {
          if (record.issuedAhead) {
            record.issuedAhead = false;
            ahead.amount -= record.issued.amount;
            ahead.entries--;
          }
          match(record);
        } else {
          issuingAmount += amount;
          unmatched.set(issuance, record);
        }
      }
      judgeUnissued();
    },
    readThrough(ms) {
      supplyThrough = Math.max(supplyThrough, ms);
      judgeUnissued();
    },
    stuck(now, afterMs, list, limit) {
      let count = 0;
      for (const record of unmatched.values()) {
        const ageMs = now - streamIdMillis((record.supplied as { at: StreamId }).at);
        if (ageMs < afterMs) break;
        count++;
        if (list.length < limit) list.push({ issuance: record.issuance, ageMs, waiting: 'its Issued entry' });
      }
      return count;
    },
  };
}
