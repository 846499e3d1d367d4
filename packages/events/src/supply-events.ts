/**
 * The contracts of events on the money supply's stream (`microbank:{supply}`): what the bank
 * issued, to which account, once per issuance. The supply is the sum of these amounts; money enters
 * a ledger only as an Issued event of an issuance recorded here (packages/ledger, issueSupply).
 */

import { catalogAtV1 } from '@microbank/streams';
import * as z from 'zod';
import { accountName } from './account-events.ts';
import { amount, issuanceId } from './ledger-events.ts';

/** SupplyIssued v1: the bank issues `amount` into `account`'s ledger, under issuance `issuance` (once, unchangeable). */
export const supplyIssuedV1 = z.object({ issuance: issuanceId, account: accountName, amount });

export type SupplyEvent = { type: 'SupplyIssued'; data: z.infer<typeof supplyIssuedV1> };

export const supplyEvents = catalogAtV1<SupplyEvent>(
  { kind: 'supply', maxEntryBytes: 1024 },
  { SupplyIssued: supplyIssuedV1 },
);
