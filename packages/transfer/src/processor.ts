/**
 * A transfer processor: one consumer of the `processors` group on the transfers stream (a
 * consumer worker, @microbank/streams' consumer-worker.ts, which reads, claims, acknowledges, backs
 * off and parks). What is the processor's own: each TransferRequested entry runs its transfer's
 * saga, and the write that settles the transfer acknowledges its entry; a saga that fails at every
 * delivery is parked (parked.ts). Entries before the compaction point, events that are not
 * requests and entries that do not decode are acknowledged and counted as skipped. While it runs,
 * the processor is present under the processors' presence key.
 */
import { PROCESSORS_GROUP, processorsPresenceKey, transferEvents, transfersKey } from '@microbank/events';
import type { RedisClient } from '@microbank/ledger';
import {
  type Backoff,
  compareStreamIds,
  type Delivery,
  decodeEntry,
  errorMessage,
  type FailedDelivery,
  type Handled,
  keepPresence,
  type Log,
  type Reservation,
  type StreamId,
  startConsumerWorker,
  streamIdMillis,
  type WorkerCounts,
} from '@microbank/streams';
import { compactedBefore } from './compaction.ts';
import { parkEntry } from './parked.ts';
import { BehindCompaction, RequestLost, requestedTransfer, runSaga } from './saga.ts';
import { type DeliverTo, type TransferStatus, transferStatus, transferStatuses } from './transfer-log.ts';

export { PROCESSORS_GROUP };

/** How often the processor reads the compaction point again. */
const COMPACTION_LOOK_MS = 1_000;

/**
 * A request a POST makes is delivered to this processor by its own script only while the processor
 * handles fewer transfers than this: at a low rate, that saves each one a read's round trip; a
 * busy processor's reads bring many requests at once, and their sagas' steps go out together.
 */
const RESERVE_BELOW = 4;

/** A request first delivered this long after it was written asks for its transfer's status first. */
const FIRST_DELIVERY_ASKS_AFTER_MS = 10_000;

/**
 * How long a processor counts as alive in the processors' presence (processorsPresenceKey)
 * without refreshing it. A consumer's idle time in the group does not say it is alive: Redis 7.0
 * does not reset it for a blocking read that brought nothing.
 */
const PRESENCE_TTL_MS = 6_000;

export interface ProcessorOptions {
  /** For the saga's scripts and the acknowledgements. */
  redis: RedisClient;
  /** Dedicated to the blocking XREADGROUP; the processor closes it. */
  blockRedis: RedisClient;
  log: Log;
  /** This consumer's name in the group (the instance: pod name, host/pid). */
  consumer: string;
  /** An entry held this long by another consumer (among the group's pending entries) is taken over. */
  claimIdleMs: number;
  /** Transfers run at once at most (and so entries read at once); the consumer worker's batch. */
  batch?: number;
  blockMs?: number;
  prefix?: string;
  /** How long a settled transfer's status is kept (DEFAULT_RETENTION_MS). */
  retentionMs?: number;
  /** An entry whose saga fails at this delivery (or a later one) is parked; default 5. */
  maxDeliveries?: number;
  /**
   * How long an entry whose saga failed waits before it is run again, from its delivery, growing
   * with each one (backoffDelay); default from 500 ms up to 30 s.
   */
  retryBackoff?: Backoff;
}

/**
 * What a processor has counted since it started: its own counts beside its consumer worker's, which
 * counts into the same object. A saga's failed delivery (`failed`) is run again after a backoff, or
 * parked at the entry's maxDeliveries-th delivery (`parked`).
 */
export interface ProcessorCounts extends WorkerCounts {
  /** Transfers this processor settled (completed or rejected). */
  settled: number;
  /** Entries acknowledged without a saga: not a request, or not decodable. */
  skipped: number;
}

/** Room in a processor for the request about to be made, delivered to it by the request script. */
export interface ProcessorReservation extends Reservation {
  /** For requestTransfer: the group and this processor's consumer. */
  deliverTo: DeliverTo;
}

export interface Processor {
  /** Kept up to date while the processor runs. */
  readonly counts: Readonly<ProcessorCounts>;
  /**
   * Room for the request a POST is about to make: its script reads it for this processor, which
   * runs its saga at once, without a round trip to read it. Undefined when there is none (the
   * processor busy, RESERVE_BELOW, or stopping): then a read of the group brings the request, as it
   * does any other.
   */
  reserve(): ProcessorReservation | undefined;
  stop(): Promise<void>;
}

export function startProcessor(options: ProcessorOptions): Processor {
  const { redis, log, consumer, prefix } = options;
  const counts: ProcessorCounts = { settled: 0, skipped: 0, claimed: 0, failed: 0, parked: 0 };

  /**
   * The compaction point, read again at most every COMPACTION_LOOK_MS rather than once per batch (a
   * round trip on every transfer's path), and then beside the batch, not before it: only the first
   * batch waits for it. A point newer than this one knows is no danger: the ledger scripts refuse
   * a step behind it by position whatever the processor thought.
   */
  let knownPoint: { point: StreamId | undefined; at: number } | undefined;
  let lookingAtPoint: Promise<void> | undefined;
  let pointUnread = false;
  function lookAtPoint(): Promise<void> {
    lookingAtPoint ??= compactedBefore(redis, prefix)
      .then((point) => {
        knownPoint = { point, at: performance.now() };
        if (pointUnread) log.info({ compactedBefore: point }, 'the compaction point is read again');
        pointUnread = false;
      })
      .finally(() => {
        lookingAtPoint = undefined;
      });
    return lookingAtPoint;
  }
  async function compactionPoint(): Promise<StreamId | undefined> {
    if (knownPoint === undefined) await lookAtPoint();
    else if (performance.now() - knownPoint.at >= COMPACTION_LOOK_MS) {
      lookAtPoint().catch((error: unknown) => {
        if (!pointUnread) {
          log.warn(
            { err: errorMessage(error), compactedBefore: knownPoint?.point },
            'the compaction point could not be read again; going on with the one known',
          );
        }
        pointUnread = true;
      });
    }
    return knownPoint?.point;
  }

  /** Runs the sagas of `delivered` at once; an entry is done once its transfer is settled. */
  async function runTransfers(delivered: Delivery[]): Promise<Handled<TransferStatus>> {
    const handled: Required<Handled<TransferStatus>> = { done: [], acknowledged: [], failed: [] };
    const requests: Array<Delivery & { request: TransferStatus }> = [];
    // Entries before the compaction point were settled before it (compaction.ts): never run again.
    const point = await compactionPoint();
    for (const delivery of delivered) {
      const { id, fields } = delivery;
      if (point !== undefined && compareStreamIds(id, point) < 0) {
        log.warn({ id, compactedBefore: point }, 'acknowledged a transfers entry from before the compaction point');
        counts.skipped++;
        handled.done.push(id);
        continue;
      }
      const decoded = decodeEntry(transferEvents, fields ?? []);
      if (!decoded.ok || decoded.event.type !== 'TransferRequested') {
        if (!decoded.ok) log.warn({ id, reason: decoded.reason }, 'skipped a transfers entry that does not decode');
        counts.skipped++;
        handled.done.push(id);
        continue;
      }
      requests.push({ ...delivery, request: requestedTransfer(id, decoded.event.data) });
    }
    // The statuses only say which transfers are settled already, so that a saga is not run again.
    // A request delivered for the first time, and lately, is not asked about: it is all but
    // certainly pending, and its steps are idempotent (a transfer settled meanwhile answers its
    // first outcome). One delivered again, or first delivered long after it was written (the group
    // read from the start again, after Redis lost it), is. A status that does not read (its JSON
    // broken) fails its own transfer, not the batch: then they are read one by one.
    const now = Date.now();
    const again = requests.filter(
      ({ id, deliveries }) => deliveries > 1 || now - streamIdMillis(id) > FIRST_DELIVERY_ASKS_AFTER_MS,
    );
    const knownAt = new Map(again.map(({ id }, i) => [id, i]));
    // Delivered a few at a time (a low rate), the group has most likely read everything before a
    // settlement: its script then reads the settlement for this processor at once, so that none is
    // woken to read it and skip it. Many at a time (a busy bank), the group is behind, and the check
    // would cost Redis a look for nothing; a skipped settlement is then one of many entries read.
    const readSettlement = delivered.length < RESERVE_BELOW ? { consumer } : {};
    const known = await transferStatuses(
      redis,
      again.map(({ request }) => request.transfer),
      prefix,
    ).catch(() => undefined);
    await Promise.all(
      requests.map(async ({ request, ...delivery }) => {
        try {
          const at = knownAt.get(delivery.id);
          const current =
            at === undefined ? undefined : known ? known[at] : await transferStatus(redis, request.transfer, prefix);
          if (current === undefined || current.status === 'pending') {
            // The settlement acknowledges the entry: one write fewer on every transfer's path.
            const outcome = await runSaga(redis, request, prefix, options.retentionMs, {
              group: PROCESSORS_GROUP,
              entry: delivery.id,
              ...readSettlement,
            });
            if (!outcome.repeated) counts.settled++;
            handled.acknowledged.push(delivery.id);
          } else handled.done.push(delivery.id);
        } catch (error) {
          const why = neverRun(error);
          if (why) {
            log.warn({ id: delivery.id, transfer: request.transfer }, why);
            counts.skipped++;
            handled.done.push(delivery.id);
            return;
          }
          handled.failed.push({ delivery, error, about: request });
        }
      }),
    );
    return handled;
  }

  /** Why a saga that threw `error` is never to run again (its entry acknowledged, nothing parked), if it is not. */
  function neverRun(error: unknown): string | undefined {
    // Settled before the compaction point, its entry trimmed.
    if (error instanceof BehindCompaction) return 'acknowledged a transfer behind the compaction point';
    // Read from a primary that then failed before any replica held it (its client was never told
    // it was accepted), or deleted since: the stream of now has no such request.
    if (error instanceof RequestLost) {
      return 'dropped a transfer request the transfers stream no longer holds (lost in a failover, or deleted): not run';
    }
    return undefined;
  }

  /** Parks a transfer whose saga failed at its maxDeliveries-th delivery (parked.ts). */
  async function park({ delivery, about: request }: FailedDelivery<TransferStatus>, reason: string) {
    const { transfer } = request;
    const { id: entry, deliveries } = delivery;
    try {
      const at = await parkEntry(redis, { consumer, entry, transfer: request, reason, deliveries }, prefix);
      if (at === undefined) return false;
      log.error(
        { transfer, entry, deliveries, reason, parked: at },
        'parked a transfer whose saga failed at every delivery; `pnpm parked` lists it',
      );
      return true;
    } catch (error) {
      log.warn({ transfer, err: errorMessage(error) }, 'could not park a failing transfer yet');
      throw error;
    }
  }

  const worker = startConsumerWorker<TransferStatus>({
    redis,
    blockRedis: options.blockRedis,
    log,
    stream: transfersKey(prefix),
    group: PROCESSORS_GROUP,
    consumer,
    claimIdleMs: options.claimIdleMs,
    batch: options.batch,
    reserveBelow: RESERVE_BELOW,
    blockMs: options.blockMs,
    maxDeliveries: options.maxDeliveries,
    retryBackoff: options.retryBackoff,
    counts,
    handle: runTransfers,
    park,
    retrying: ({ delivery, error, about }, retryInMs) =>
      log.warn(
        { transfer: about.transfer, deliveries: delivery.deliveries, retryInMs, err: errorMessage(error) },
        'transfer not settled yet: its saga failed at this delivery, and the entry runs again after a backoff',
      ),
  });

  const stopping = new AbortController();
  const presence = keepPresence({
    redis,
    key: processorsPresenceKey(prefix),
    instance: consumer,
    url: '-',
    ttlMs: PRESENCE_TTL_MS,
    signal: stopping.signal,
  });

  return {
    counts,
    reserve() {
      const reservation = worker.reserve();
      return reservation && { ...reservation, deliverTo: { group: PROCESSORS_GROUP, consumer } };
    },
    async stop() {
      stopping.abort();
      // Present until its sagas under way are over: a rebuild of the ledgers' state waits for that.
      await worker.stop();
      await presence.leave();
    },
  };
}
