/**
 * The contracts of events on the parked stream (`microbank:{transfers}:parked`): transfers-stream
 * entries whose saga failed at every delivery, taken out of the processors' way
 * (packages/transfer's parked.ts), and their re-application after a fix.
 */

import { catalogAtV1, decodeEntry, isStreamId, type StreamId } from '@microbank/streams';
import * as z from 'zod';
import { accountName } from './account-events.ts';
import { amount, transferId } from './ledger-events.ts';

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

export const parkedEvents = catalogAtV1<ParkedEvent>(
  { kind: 'parked transfers', maxEntryBytes: 4 * 1024 },
  { TransferParked: transferParkedV1, ParkedTransferReapplied: parkedTransferReappliedV1 },
);

/** A parked entry as it is read: what was parked, and whether it was re-applied since. */
export type ParkedTransfer = TransferParked['data'] & {
  /** Its position on the parked stream: what `pnpm parked --retry` takes. */
  parked: StreamId;
  reapplied?: { status: 'completed' | 'rejected'; at: string };
};

/**
 * The parked transfers in `entries` of the parked stream (oldest first), each marked when a later
 * entry re-applied it, and how many entries did not decode.
 */
export function parkedOf(entries: Iterable<[StreamId, string[]]>): { transfers: ParkedTransfer[]; skipped: number } {
  const transfers: ParkedTransfer[] = [];
  const byPosition = new Map<StreamId, ParkedTransfer>();
  let skipped = 0;
  for (const [id, fields] of entries) {
    const decoded = decodeEntry(parkedEvents, fields);
    if (!decoded.ok) {
      skipped++;
      continue;
    }
    if (decoded.event.type === 'TransferParked') {
      const parked = { parked: id, ...decoded.event.data };
      transfers.push(parked);
      byPosition.set(id, parked);
    } else {
      const { parked, status, reappliedAt } = decoded.event.data;
      const known = byPosition.get(parked);
      if (known) known.reapplied = { status, at: reappliedAt };
    }
  }
  return { transfers, skipped };
}
