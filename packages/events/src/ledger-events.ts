/**
 * The contracts of events on an account's ledger stream (`microbank:ledger:{<account>}`). Amounts
 * are whole numbers of the bank's smallest unit, never floats. A ledger's balance is the fold of
 * these events (packages/ledger); they are appended only by the Lua scripts that check them.
 *
 * Version 2 of each event (and Issued from its first version) carries `seq`: the entry's number in
 * its ledger, 1 for the AccountOpened, then one more per entry, no gaps, so that a missing or
 * rewritten entry is seen. Version 1 entries (written before) have no `seq` and stay readable:
 * their data decodes with `seq` undefined.
 */

import type { EventCatalog } from '@microbank/streams';
import * as z from 'zod';
import { accountName } from './account-events.ts';

/** The largest amount one transfer (or one issuance) may move: far beyond any balance this bank holds, far below 2^53. */
export const MAX_AMOUNT = 1_000_000_000_000;

export const amount = z.number().int('must be a whole number').min(1, 'must be at least 1').max(MAX_AMOUNT);

/** A transfer's ID, chosen by the transfer service: a UUID. */
export const transferId = z.uuid();

/** An entry's number in its ledger: 1 for the AccountOpened, then one more per entry. */
export const seq = z.number().int('must be a whole number').min(1).max(Number.MAX_SAFE_INTEGER);

/**
 * The longest issuance ID: `opening:` and an account name of up to 63 characters fit
 * (`opening:<account>` is the ID of an account's opening issuance, see parseIssuance).
 */
export const ISSUANCE_ID_MAX_LENGTH = 80;
export const ISSUANCE_ID_PATTERN = /^[A-Za-z0-9._:-]+$/;

/** An issuance's ID, chosen by the bank: `opening:<account>` or a UUID, say. */
export const issuanceId = z
  .string()
  .min(1)
  .max(ISSUANCE_ID_MAX_LENGTH)
  .regex(ISSUANCE_ID_PATTERN, 'must be made of A-Z, a-z, 0-9 and "._:-"');

/** AccountOpened v1 (old data): the ledger's first event, with an opening balance the account itself chose. */
export const accountOpenedV1 = z.object({ account: accountName, amount: z.number().int().min(0).max(MAX_AMOUNT) });

/** AccountOpened v2: the ledger's first event (`seq` 1), once per account however often it registers; no money. */
export const accountOpenedV2 = z.object({ account: accountName, seq });

/** Issued v1: money issued by the bank into this ledger, for issuance `issuance` (on the supply stream). */
export const issuedV1 = z.object({ issuance: issuanceId, amount, seq });

/** Debited v1: money left this account for `to`, for `transfer`. */
export const debitedV1 = z.object({ transfer: transferId, to: accountName, amount });
export const debitedV2 = z.object({ ...debitedV1.shape, seq });

/** DebitDeclined v1: a debit (its fields) refused because it would overdraw; nothing moved. */
export const debitDeclinedV1 = z.object({ ...debitedV1.shape, reason: z.literal('insufficient-funds') });
export const debitDeclinedV2 = z.object({ ...debitDeclinedV1.shape, seq });

/** Credited v1: money arrived from `from`, for `transfer`; `debit` is the debit's entry ID on `from`'s ledger. */
/** The longest `debit` a Credited may name: a stream ID is at most 20 + 1 + 20 characters. */
export const DEBIT_MAX_LENGTH = 41;
export const creditedV1 = z.object({
  transfer: transferId,
  from: accountName,
  amount,
  debit: z.string().max(DEBIT_MAX_LENGTH),
});
export const creditedV2 = z.object({ ...creditedV1.shape, seq });

/** Refunded v1: a debit (its fields) given back because its credit could not be made (`reason`). */
export const refundedV1 = z.object({ ...debitedV1.shape, reason: z.literal('unknown-account') });
export const refundedV2 = z.object({ ...refundedV1.shape, seq });

/** The data of either version: `seq` undefined for version 1. */
type Numbered<V1> = V1 & { seq?: number };

/** AccountOpened v1 has `amount` (its opening balance) and no `seq`; v2 has `seq` and no `amount`. */
export type AccountOpenedData =
  | (z.infer<typeof accountOpenedV1> & { seq?: undefined })
  | (z.infer<typeof accountOpenedV2> & { amount?: undefined });

export type LedgerEvent =
  | { type: 'AccountOpened'; data: AccountOpenedData }
  | { type: 'Issued'; data: z.infer<typeof issuedV1> }
  | { type: 'Debited'; data: Numbered<z.infer<typeof debitedV1>> }
  | { type: 'DebitDeclined'; data: Numbered<z.infer<typeof debitDeclinedV1>> }
  | { type: 'Credited'; data: Numbered<z.infer<typeof creditedV1>> }
  | { type: 'Refunded'; data: Numbered<z.infer<typeof refundedV1>> };

export const ledgerEvents: EventCatalog<LedgerEvent> = {
  kind: 'ledger',
  maxEntryBytes: 2 * 1024,
  events: {
    AccountOpened: { current: 2, versions: { 1: accountOpenedV1, 2: accountOpenedV2 } },
    Issued: { current: 1, versions: { 1: issuedV1 } },
    Debited: { current: 2, versions: { 1: debitedV1, 2: debitedV2 } },
    DebitDeclined: { current: 2, versions: { 1: debitDeclinedV1, 2: debitDeclinedV2 } },
    Credited: { current: 2, versions: { 1: creditedV1, 2: creditedV2 } },
    Refunded: { current: 2, versions: { 1: refundedV1, 2: refundedV2 } },
  },
};
