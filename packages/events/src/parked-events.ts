/**
 * The contracts of events on the parked stream (`microbank:{transfers}:parked`): transfers-stream
 * entries whose saga failed at every delivery, taken out of the processors' way
 * (packages/transfer's parked.ts), and their re-application after a fix.
 */
import * as z from 'zod';
import { accountName } from './account-events.ts';
import type { EventCatalog } from './event-catalog.ts';
import { amount, transferId } from './ledger-events.ts';
import { isStreamId } from './stream-id.ts';

/** A parked entry keeps this much of the last error's message. */
export const REASON_MAX_LENGTH = 500;

const streamId = z.string().max(41).refine(isStreamId, 'must be a stream ID');
const at = z.iso.datetime({ offset: true });

/** TransferParked v1: the TransferRequested entry at `entry` failed its saga at `deliveries` deliveries. */
export const transferParkedV1 = z.object({
  entry: streamId,
  transfer: transferId,
  from: accountName,
  to: accountName,
  amount,
  reason: z.string().max(REASON_MAX_LENGTH),
  deliveries: z.number().int().min(1),
  parkedAt: at,
});

/** ParkedTransferReapplied v1: the parked entry `parked` was re-applied; its transfer ended `status`. */
const parkedTransferReappliedV1 = z.object({
  parked: streamId,
  transfer: transferId,
  status: z.enum(['completed', 'rejected']),
  reappliedAt: at,
});

export type TransferParked = { type: 'TransferParked'; data: z.infer<typeof transferParkedV1> };
export type ParkedEvent =
  | TransferParked
  | { type: 'ParkedTransferReapplied'; data: z.infer<typeof parkedTransferReappliedV1> };

export const parkedEvents: EventCatalog<ParkedEvent> = {
  kind: 'parked transfers',
  maxEntryBytes: 4 * 1024,
  events: {
    TransferParked: { current: 1, versions: { 1: transferParkedV1 } },
    ParkedTransferReapplied: { current: 1, versions: { 1: parkedTransferReappliedV1 } },
  },
};
