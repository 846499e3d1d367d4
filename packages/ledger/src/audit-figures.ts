/** What the audit reports: its figures, its violations and what is stuck (audit.ts folds them). */
import type { StreamId } from '@microbank/streams';
import type { Checkpoint } from './audit-checkpoint.ts';

/** Something the books hold that cannot be, naming the ledger, transfer or issuance, and why. */
export interface Violation {
  ledger?: string;
  transfer?: string;
  issuance?: string;
  /** The entry at fault, when there is one. */
  at?: StreamId;
  reason: string;
}

/** A transfer (or issuance) not settled in time: what it waits for and for how long. */
export interface StuckItem {
  transfer?: string;
  issuance?: string;
  ageMs: number;
  waiting: string;
}

export interface AuditFigures {
  /** balances + inFlight + issuing = supply, and no violation. */
  conserved: boolean;
  /** What the balances must add up to: issued by the bank, plus old opening amounts. */
  supply: { issued: number; openings: number; total: number };
  /** Every balance within the cut, summed. */
  balances: number;
  /** Debited and not yet credited or refunded. */
  inFlight: { amount: number; transfers: number };
  /** Issued on the supply stream, not yet in its ledger. */
  issuing: { amount: number; issuances: number };
  /** Left out of the balances until the cut reaches what pays for them (a credit's debit, an Issued's issuance). */
  ahead: { amount: number; entries: number };
  /** Ledgers with at least one entry applied. */
  ledgers: number;
  /** Requested, settled either way, and pending (requested, not yet reconciled with both ledgers). */
  transfers: { requested: number; completed: number; rejected: number; pending: number };
  stuck: { afterMs: number; transfers: number; issuances: number; first: StuckItem[] };
  violations: { count: number; first: Violation[] };
  /** What the figures were folded from; absent when the audit is given no digest. */
  checkpoint?: Checkpoint;
}
