/**
 * The contracts of events on an account's ledger stream (`microbank:ledger:{<account>}`). Amounts
 * are whole numbers of the bank's smallest unit, never floats. A ledger's balance is the fold of
 * these events (packages/ledger); they are appended only by the Lua scripts that check them.
 */
import * as z from 'zod';
import { accountName } from './account-events.ts';
import type { EventCatalog } from './event-catalog.ts';

/** The largest amount one transfer may move: far beyond any balance this bank holds, far below 2^53. */
export const MAX_AMOUNT = 1_000_000_000_000;

export const amount = z.number().int('must be a whole number').min(1, 'must be at least 1').max(MAX_AMOUNT);

/** A transfer's ID, chosen by the transfer service: a UUID. */
export const transferId = z.uuid();

/** AccountOpened v1: the ledger's first event, once per account however often it registers. */
export const accountOpenedV1 = z.object({ account: accountName, amount: z.number().int().min(0).max(MAX_AMOUNT) });

/** Debited v1: money left this account for `to`, for `transfer`. */
export const debitedV1 = z.object({ transfer: transferId, to: accountName, amount });

/** DebitDeclined v1: a debit refused because it would overdraw; nothing moved. */
export const debitDeclinedV1 = z.object({
  transfer: transferId,
  to: accountName,
  amount,
  reason: z.literal('insufficient-funds'),
});

/** Credited v1: money arrived from `from`, for `transfer`; `debit` is the debit's entry ID on `from`'s ledger. */
/** The longest `debit` a Credited may name: a stream ID is at most 20 + 1 + 20 characters. */
export const DEBIT_MAX_LENGTH = 41;
export const creditedV1 = z.object({
  transfer: transferId,
  from: accountName,
  amount,
  debit: z.string().max(DEBIT_MAX_LENGTH),
});

/** Refunded v1: a debit given back because its credit could not be made (`reason`). */
export const refundedV1 = z.object({
  transfer: transferId,
  to: accountName,
  amount,
  reason: z.literal('unknown-account'),
});

export type LedgerEvent =
  | { type: 'AccountOpened'; data: z.infer<typeof accountOpenedV1> }
  | { type: 'Debited'; data: z.infer<typeof debitedV1> }
  | { type: 'DebitDeclined'; data: z.infer<typeof debitDeclinedV1> }
  | { type: 'Credited'; data: z.infer<typeof creditedV1> }
  | { type: 'Refunded'; data: z.infer<typeof refundedV1> };

export const ledgerEvents: EventCatalog<LedgerEvent> = {
  kind: 'ledger',
  maxEntryBytes: 2 * 1024,
  events: {
    AccountOpened: { current: 1, versions: { 1: accountOpenedV1 } },
    Debited: { current: 1, versions: { 1: debitedV1 } },
    DebitDeclined: { current: 1, versions: { 1: debitDeclinedV1 } },
    Credited: { current: 1, versions: { 1: creditedV1 } },
    Refunded: { current: 1, versions: { 1: refundedV1 } },
  },
};
