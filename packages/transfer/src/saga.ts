/**
 * One transfer's saga, across two ledgers, each step idempotent: debit the source (never below
 * zero), credit the destination, and when the credit is refused give the debit back; then record
 * the outcome once. Run it again at any point (a processor killed halfway, a claimed entry, two
 * processors on one transfer, a parked entry re-applied) and every step already done returns its
 * first outcome: nothing moves twice.
 */
import { type TransferRequested, transferEvents, transfersKey } from '@microbank/events';
import { credit, debit, type RedisClient, refund } from '@microbank/ledger';
import { confirmationOf, confirmedEntry, decodeEntry, type StreamId } from '@microbank/streams';
import {
  type Acknowledging,
  DEFAULT_RETENTION_MS,
  type Settlement,
  settleTransfer,
  type TransferStatus,
} from './transfer-log.ts';

/**
 * The transfer a TransferRequested entry (at `position` on the transfers stream, decoded and
 * validated) asks for, as the saga runs it: what moves comes from the entry, never from the status
 * hash, whose JSON a Lua script wrote through cjson (which rounds numbers of 15 digits or more) and
 * which only says whether the transfer is settled already.
 */
export function requestedTransfer(position: StreamId, requested: TransferRequested['data']): TransferStatus {
  const { key: _key, ...request } = requested;
  return { ...request, status: 'pending', position };
}

/** A saga of a transfer requested before the compaction point, refused by its ledgers. */
export class BehindCompaction extends Error {
  override name = 'BehindCompaction';
}

/**
 * A saga of a request its stream does not hold: its primary took it and failed before any replica
 * held it (its client was told `indeterminate`, so nobody was told it was accepted), and the replica
 * that took over never had it. It is never run: the client's retry with the same key asks again.
 */
export class RequestLost extends Error {
  override name = 'RequestLost';
}

/** A saga's settlement, marked `repeated` when the transfer had been settled before (by this settlement). */
export type SagaOutcome = Settlement & { repeated?: true };

/**
 * Runs the saga of `status`'s transfer: requestedTransfer's, in the processor and on a re-apply.
 * With `acknowledging` (the processor's), the settlement also acknowledges the request's entry.
 */
export async function runSaga(
  redis: RedisClient,
  status: TransferStatus,
  prefix?: string,
  retentionMs = DEFAULT_RETENTION_MS,
  acknowledging?: Acknowledging,
): Promise<SagaOutcome> {
  const transfer = {
    transfer: status.transfer,
    from: status.from,
    to: status.to,
    amount: status.amount,
    requested: status.position,
  };
  await requestHeld();
  const settlement = await decide();
  const { repeated } = await settleTransfer(redis, status, settlement, prefix, retentionMs, acknowledging);
  return repeated ? { ...settlement, repeated } : settlement;

  /**
   * Money moves only on a request the transfers stream holds now and its replicas confirm. One the
   * primary took and no replica has (its client told "indeterminate") could be lost in a failover
   * after its steps were made, and the client's retry with the same key would then make a second
   * transfer that moves it again. Confirming the replicas is not enough on its own: a saga that read
   * the request from the old primary, then runs again after the failover, would confirm the new
   * primary's replicas, which never held it; so the request is read again, on the primary of now,
   * in the pipeline the WAIT confirms.
   */
  async function requestHeld(): Promise<void> {
    // Without confirmation (a single Redis) no failover takes a request back: the entry delivered is held.
    if (confirmationOf(redis).replicas === 0) return;
    const { position } = status;
    const entry = position === undefined ? undefined : await confirmedEntry(redis, transfersKey(prefix), position);
    const decoded = entry ? decodeEntry(transferEvents, entry[1]) : undefined;
    if (!decoded?.ok || decoded.event.type !== 'TransferRequested' || decoded.event.data.transfer !== status.transfer) {
      throw new RequestLost(
        `the transfers stream holds no request of transfer ${status.transfer} at ${status.position}: never run`,
      );
    }
  }

  async function decide(): Promise<Settlement> {
    if (transfer.from === transfer.to) return { type: 'TransferRejected', reason: 'same-account' };
    const debited = (await debit(redis, transfer, prefix)).outcome;
    if (debited.kind !== 'debited') return { type: 'TransferRejected', reason: notCompacted(debited.reason) };
    const credited = (await credit(redis, transfer, debited.position, prefix)).outcome;
    if (credited.kind === 'credited') {
      return { type: 'TransferCompleted', debit: debited.position, credit: credited.position };
    }
    // Decided before the refund: a credit refused because the transfer is behind the compaction
    // point may well have been made (its record compacted away); giving the debit back would
    // create money.
    const reason = notCompacted(credited.reason);
    const refunded = (await refund(redis, transfer, prefix)).outcome;
    return { type: 'TransferRejected', reason, refund: refunded };
  }

  /** A transfer behind the compaction point settled long ago: it is never run, nor settled, again. */
  function notCompacted<Reason extends string>(reason: Reason | 'compacted'): Reason {
    if (reason === 'compacted') {
      throw new BehindCompaction(`transfer ${status.transfer} was requested before the compaction point`);
    }
    return reason;
  }
}
