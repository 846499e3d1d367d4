/**
 * The contracts of events on the transfers stream (`microbank:{transfers}`): the saga's log. A
 * transfer is requested (by the API), then completed or rejected (by a processor).
 */

import { catalogAtV1 } from '@microbank/streams';
import * as z from 'zod';
import { accountName } from './account-events.ts';
import { amount, transferId } from './ledger-events.ts';

/** A client of the transfer API's name: what its Idempotency-Keys and transfers are scoped to. */
export const CLIENT_NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/;
export const clientName = z
  .string()
  .regex(CLIENT_NAME_PATTERN, 'must be 1-63 characters of a-z, 0-9 and -, starting with a letter or digit');

/** Why a transfer did not happen. */
const REJECTIONS = ['insufficient-funds', 'unknown-account', 'same-account'] as const;
export type Rejection = (typeof REJECTIONS)[number];

/**
 * TransferRequested v1: a client asked for money to move; `key` is the Idempotency-Key it came with,
 * `client` the client whose credential asked (absent on requests made before credentials existed).
 */
export const transferRequestedV1 = z.object({
  transfer: transferId,
  from: accountName,
  to: accountName,
  amount,
  key: z.string().min(1).max(255),
  requestedAt: z.iso.datetime({ offset: true }),
  client: clientName.optional(),
});

/** TransferCompleted v1: debited and credited; where, on each ledger. */
export const transferCompletedV1 = z.object({
  transfer: transferId,
  debit: z.string().max(41),
  credit: z.string().max(41),
});

/** TransferRejected v1: nothing moved (or what moved was given back, `refund` on the source ledger). */
export const transferRejectedV1 = z.object({
  transfer: transferId,
  reason: z.enum(REJECTIONS),
  refund: z.string().max(41).optional(),
});

export type TransferRequested = { type: 'TransferRequested'; data: z.infer<typeof transferRequestedV1> };
export type TransferEvent =
  | TransferRequested
  | { type: 'TransferCompleted'; data: z.infer<typeof transferCompletedV1> }
  | { type: 'TransferRejected'; data: z.infer<typeof transferRejectedV1> };

export const transferEvents = catalogAtV1<TransferEvent>(
  { kind: 'transfers', maxEntryBytes: 2 * 1024 },
  {
    TransferRequested: transferRequestedV1,
    TransferCompleted: transferCompletedV1,
    TransferRejected: transferRejectedV1,
  },
);
