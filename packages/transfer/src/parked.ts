/**
 * Parked transfers: a transfers-stream entry whose saga failed at each of its deliveries is taken
 * out of the processors' way onto a stream of its own (park-entry-2.lua), where an operator finds
 * it (`pnpm parked`) and, once the cause is fixed, re-applies it: its saga runs once more, from the
 * transfers-stream entry, and since each of its steps is decided once, forever, a re-apply moves
 * nothing a first run had not already decided.
 */
import {
  type ParkedEvent,
  type ParkedTransfer,
  PROCESSORS_GROUP,
  parkedEvents,
  parkedKey,
  parkedOf,
  REASON_MAX_LENGTH,
  transferEvents,
  transfersKey,
} from '@microbank/events';
import type { RedisClient } from '@microbank/ledger';
import { decodeEntry, defineScript, encodeEvent, entryPages, type StreamId } from '@microbank/streams';
import { requestedTransfer, runSaga } from './saga.ts';
import { type TransferStatus, transferStatus } from './transfer-log.ts';

const dataOf = (event: ParkedEvent) => encodeEvent(parkedEvents, event)[5] as string;

/** `reason` cut to REASON_MAX_LENGTH characters, an ellipsis saying it was. */
function clipReason(reason: string): string {
  return reason.length <= REASON_MAX_LENGTH ? reason : `${reason.slice(0, REASON_MAX_LENGTH - 1)}…`;
}

export interface Parking {
  /** The consumer that holds the entry (only it parks it). */
  consumer: string;
  /** The TransferRequested entry on the transfers stream. */
  entry: StreamId;
  transfer: Pick<TransferStatus, 'transfer' | 'from' | 'to' | 'amount'>;
  /** Why its saga failed the last time (cut to REASON_MAX_LENGTH). */
  reason: string;
  deliveries: number;
}

type Scripted = { parkEntry(...args: string[]): Promise<[string, string]> };

/**
 * Parks `entry`: records it on the parked stream and acknowledges it on the transfers stream, in
 * one script. Resolves to its position on the parked stream, or undefined when `consumer` no
 * longer holds it (acknowledged or taken over since): then nothing was done.
 */
export async function parkEntry(redis: RedisClient, parking: Parking, prefix?: string): Promise<StreamId | undefined> {
  defineScript(redis, 'parkEntry', 'park-entry-2.lua', import.meta.url);
  const { transfer, from, to, amount } = parking.transfer;
  const data = dataOf({
    type: 'TransferParked',
    data: {
      entry: parking.entry,
      transfer,
      from,
      to,
      amount,
      reason: clipReason(parking.reason),
      deliveries: parking.deliveries,
      parkedAt: new Date().toISOString(),
    },
  });
  const [kind, id] = await (redis as unknown as Scripted).parkEntry(
    transfersKey(prefix),
    parkedKey(prefix),
    PROCESSORS_GROUP,
    parking.consumer,
    parking.entry,
    data,
  );
  return kind === 'parked' ? id : undefined;
}

/** Every parked entry, oldest first, and how many entries of the parked stream did not decode. */
export async function parkedTransfers(
  redis: RedisClient,
  prefix?: string,
): Promise<{ transfers: ParkedTransfer[]; skipped: number }> {
  const entries: Array<[StreamId, string[]]> = [];
  for await (const page of entryPages(redis, parkedKey(prefix))) entries.push(...page);
  return parkedOf(entries);
}

export type Reapplied =
  /** The saga ran (or the transfer had been settled meanwhile); the transfer ended `status`. */
  | { kind: 'reapplied'; transfer: string; status: 'completed' | 'rejected' }
  /** Re-applied before: nothing was run again. */
  | { kind: 'already'; transfer: string; status: 'completed' | 'rejected'; at: string }
  | { kind: 'unknown' };

/**
 * Re-applies the parked entry at `parked` (its position on the parked stream): runs its saga once
 * from the TransferRequested entry on the transfers stream, then records on the parked stream that
 * it was re-applied. A saga that fails again throws and records nothing: the entry stays parked.
 */
export async function reapplyParked(redis: RedisClient, parked: StreamId, prefix?: string): Promise<Reapplied> {
  const known = (await parkedTransfers(redis, prefix)).transfers.find((candidate) => candidate.parked === parked);
  if (!known) return { kind: 'unknown' };
  if (known.reapplied) return { kind: 'already', transfer: known.transfer, ...known.reapplied };
  const [entry] = await redis.xrange(transfersKey(prefix), known.entry, known.entry);
  const decoded = decodeEntry(transferEvents, entry?.[1] ?? []);
  if (!decoded.ok || decoded.event.type !== 'TransferRequested' || decoded.event.data.transfer !== known.transfer) {
    throw new Error(
      `the entry ${known.entry} on the transfers stream is not the request of transfer ${known.transfer}`,
    );
  }
  const before = await transferStatus(redis, known.transfer, prefix);
  if (before === undefined || before.status === 'pending') {
    await runSaga(redis, requestedTransfer(known.entry, decoded.event.data), prefix);
  }
  const status = (await transferStatus(redis, known.transfer, prefix))?.status;
  if (status !== 'completed' && status !== 'rejected') {
    throw new Error(`transfer ${known.transfer} is still ${status ?? 'unknown'} after its saga ran`);
  }
  await redis.xadd(
    parkedKey(prefix),
    '*',
    ...encodeEvent(parkedEvents, {
      type: 'ParkedTransferReapplied',
      data: { parked, transfer: known.transfer, status, reappliedAt: new Date().toISOString() },
    }),
  );
  return { kind: 'reapplied', transfer: known.transfer, status };
}
