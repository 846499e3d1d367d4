/**
 * A transfer processor: one consumer of the `processors` group on the transfers stream. It reads
 * new requests (XREADGROUP), runs each one's saga, and acknowledges an entry only once its
 * transfer is settled. What stays pending is run again from the group's pending list (XPENDING,
 * XCLAIM): its own entries whose saga failed once their backoff has passed, those it held before a
 * restart under the same name at once, and entries another consumer has left idle for a while (it
 * died mid-transfer). An entry whose saga fails at its maxDeliveries-th delivery is parked
 * (parked.ts): recorded on the parked stream and acknowledged. Events that are not requests, or
 * that do not decode, are acknowledged and counted.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  type Backoff,
  backoffDelay,
  compareStreamIds,
  decodeEntry,
  errorMessage,
  isPermanentRedisError,
  isRedisUnavailable,
  type Log,
  leavePresence,
  PROCESSORS_GROUP,
  processorsPresenceKey,
  readyOrReconnect,
  refreshPresence,
  retry,
  type StreamId,
  transferEvents,
  transfersKey,
  untilReady,
} from '@microbank/events';
import type { RedisClient } from '@microbank/ledger';
import { ReplyError } from 'ioredis';
import { compactedBefore } from './compaction.ts';
import { parkEntry } from './parked.ts';
import { BehindCompaction, requestedTransfer, runSaga } from './saga.ts';
import { type TransferStatus, transferStatus, transferStatuses } from './transfer-log.ts';

export { PROCESSORS_GROUP };

/** How often the processor reads the compaction point again. */
const COMPACTION_LOOK_MS = 1_000;

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
  /** An entry pending this long with another consumer is taken over. */
  claimIdleMs: number;
  /** Entries read (and transfers run at once) per read. */
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

export interface Processor {
  readonly settled: number;
  /** Entries taken over from another consumer. */
  readonly claimed: number;
  /** Entries acknowledged without a saga: not a request, or not decodable. */
  readonly skipped: number;
  /** Saga runs that failed, one per delivery of an entry: it is run again after a backoff, or parked. */
  readonly failed: number;
  /** Entries parked: their saga failed at their maxDeliveries-th delivery. */
  readonly parked: number;
  stop(): Promise<void>;
}

type Entry = [id: string, fields: string[] | null];
/** An entry delivered to this consumer, and how many times the group has delivered it (to anyone). */
type Delivery = { id: string; fields: string[] | null; deliveries: number };
/** A row of XPENDING's extended form. */
type PendingRow = [id: string, consumer: string, idleMs: number, deliveries: number];

/** An error that says "not now" (Redis away, loading, busy): no reason to park an entry. */
const isTransient = (error: unknown) =>
  isRedisUnavailable(error) || (error instanceof ReplyError && !isPermanentRedisError(error));

export function startProcessor(options: ProcessorOptions): Processor {
  const { redis, blockRedis, log, consumer, claimIdleMs, prefix } = options;
  const batch = options.batch ?? 200;
  const blockMs = options.blockMs ?? 2_000;
  const maxDeliveries = options.maxDeliveries ?? 5;
  const retryBackoff = options.retryBackoff ?? { firstMs: 500, capMs: 30_000 };
  const stream = transfersKey(prefix);
  const presence = processorsPresenceKey(prefix);
  const stopping = new AbortController();
  let settled = 0;
  let claimed = 0;
  let skipped = 0;
  let failed = 0;
  let parked = 0;
  /**
   * This consumer's entries whose saga failed: how long each waits, idle, before it is run again
   * (drawn once per failure, so the jitter stays put while it waits).
   */
  const retryAfter = new Map<string, number>();
  /** When (performance.now()) the pending list is next looked at. */
  let nextPassAt = 0;
  const passWithin = (ms: number) => {
    nextPassAt = Math.min(nextPassAt, performance.now() + ms);
  };

  async function ensureGroup(): Promise<void> {
    try {
      await redis.xgroup('CREATE', stream, PROCESSORS_GROUP, '0', 'MKSTREAM');
      log.info({ stream, group: PROCESSORS_GROUP }, 'created the processors group');
    } catch (error) {
      if (!/BUSYGROUP/.test(errorMessage(error))) throw error;
    }
  }

  /**
   * The compaction point, read again at most every COMPACTION_LOOK_MS rather than once per batch (a
   * round trip on every transfer's path). A point newer than this one knows is no danger: the
   * ledger scripts refuse a step behind it by position whatever the processor thought.
   */
  let knownPoint: { point: StreamId | undefined; at: number } | undefined;
  async function compactionPoint(): Promise<StreamId | undefined> {
    if (knownPoint === undefined || performance.now() - knownPoint.at >= COMPACTION_LOOK_MS) {
      knownPoint = { point: await compactedBefore(redis, prefix), at: performance.now() };
    }
    return knownPoint.point;
  }

  /** Runs the sagas of `delivered` at once; acknowledges every entry whose transfer is settled. */
  async function handle(delivered: Delivery[]): Promise<void> {
    if (delivered.length === 0) return;
    const done: string[] = [];
    const requests: Array<Delivery & { request: TransferStatus }> = [];
    // Entries before the compaction point were settled before it (compaction.ts): never run again.
    const point = await compactionPoint();
    for (const delivery of delivered) {
      const { id, fields } = delivery;
      if (point !== undefined && compareStreamIds(id, point) < 0) {
        log.warn({ id, compactedBefore: point }, 'acknowledged a transfers entry from before the compaction point');
        skipped++;
        done.push(id);
        continue;
      }
      const decoded = decodeEntry(transferEvents, fields ?? []);
      if (!decoded.ok || decoded.event.type !== 'TransferRequested') {
        if (!decoded.ok) log.warn({ id, reason: decoded.reason }, 'skipped a transfers entry that does not decode');
        skipped++;
        done.push(id);
        continue;
      }
      requests.push({ ...delivery, request: requestedTransfer(id, decoded.event.data) });
    }
    // The statuses only say which transfers are settled already. One that does not read (its JSON
    // broken) fails its own transfer, not the batch: then they are read one by one.
    const known = await transferStatuses(
      redis,
      requests.map(({ request }) => request.transfer),
      prefix,
    ).catch(() => undefined);
    await Promise.all(
      requests.map(async ({ id, deliveries, request }, i) => {
        try {
          const current = known ? known[i] : await transferStatus(redis, request.transfer, prefix);
          if (current === undefined || current.status === 'pending') {
            await runSaga(redis, request, prefix, options.retentionMs);
            settled++;
          }
          done.push(id);
        } catch (error) {
          if (error instanceof BehindCompaction) {
            // Settled before the compaction point, its entry trimmed: nothing to run, nothing to park.
            log.warn({ id, transfer: request.transfer }, 'acknowledged a transfer behind the compaction point');
            skipped++;
            done.push(id);
            return;
          }
          failed++;
          await failedDelivery(id, deliveries, request, error);
        }
      }),
    );
    if (done.length > 0) await redis.xack(stream, PROCESSORS_GROUP, ...done);
    for (const id of done) retryAfter.delete(id);
  }

  /** After a failed saga: the entry is parked at its maxDeliveries-th delivery, else run again later. */
  async function failedDelivery(id: string, deliveries: number, request: TransferStatus, error: unknown) {
    const { transfer } = request;
    const reason = errorMessage(error);
    if (deliveries >= maxDeliveries && !isTransient(error)) {
      try {
        const at = await parkEntry(redis, { consumer, entry: id, transfer: request, reason, deliveries }, prefix);
        retryAfter.delete(id);
        if (at !== undefined) {
          parked++;
          log.error(
            { transfer, entry: id, deliveries, reason, parked: at },
            'parked a transfer whose saga failed at every delivery; `pnpm parked` lists it',
          );
        }
        return;
      } catch (parkError) {
        log.warn({ transfer, err: errorMessage(parkError) }, 'could not park a failing transfer yet');
      }
    }
    const waitMs = backoffDelay(deliveries - 1, retryBackoff);
    retryAfter.set(id, waitMs);
    passWithin(waitMs);
    log.warn(
      { transfer, deliveries, retryInMs: waitMs, err: reason },
      'transfer not settled yet; it stays pending and is run again',
    );
  }

  /**
   * Runs what is pending and due again, a page of the group's pending list at a time: this
   * consumer's entries once idle for their backoff (those it held before a restart, at once),
   * another consumer's once idle for claimIdleMs (it died, or it backs off longer than that).
   * Sets when to look again: at the latest in claimIdleMs / 4, sooner when an entry is due sooner.
   */
  async function runPending(): Promise<void> {
    nextPassAt = performance.now() + claimIdleMs / 4;
    const seen = new Set<string>();
    for (let start = '-'; !stopping.signal.aborted; ) {
      const rows = (await redis.xpending(stream, PROCESSORS_GROUP, start, '+', batch)) as PendingRow[];
      const deliveries = new Map<string, number>();
      const own: string[] = [];
      const others: string[] = [];
      let ownIdle = Number.POSITIVE_INFINITY;
      for (const [id, owner, idle, times] of rows) {
        seen.add(id);
        const mine = owner === consumer;
        if (!mine) retryAfter.delete(id);
        const after = mine ? (retryAfter.get(id) ?? 0) : claimIdleMs;
        if (idle < after) {
          passWithin(after - idle);
          continue;
        }
        deliveries.set(id, times + 1);
        if (mine) {
          own.push(id);
          ownIdle = Math.min(ownIdle, after);
        } else others.push(id);
      }
      // XCLAIM with the idle time that made an entry due: one another consumer took meanwhile is
      // left to it. (It counts a delivery, as XREADGROUP does.)
      const claim = async (ids: string[], minIdle: number) =>
        ids.length === 0
          ? []
          : ((await redis.xclaim(stream, PROCESSORS_GROUP, consumer, minIdle, ...ids)) as Entry[]).filter(
              (entry) => entry !== null,
            );
      const retried = await claim(own, ownIdle);
      const takenOver = await claim(others, claimIdleMs);
      if (takenOver.length > 0) {
        claimed += takenOver.length;
        log.info({ entries: takenOver.length }, 'claimed transfers another processor left pending');
      }
      await handle(
        [...retried, ...takenOver].map(([id, fields]) => ({ id, fields, deliveries: deliveries.get(id) ?? 1 })),
      );
      const last = rows.at(-1);
      if (rows.length < batch || last === undefined) {
        for (const id of retryAfter.keys()) if (!seen.has(id)) retryAfter.delete(id);
        return;
      }
      start = `(${last[0]}`;
    }
  }

  // The named command, not a raw call: ioredis shapes the reply only for it (under RESP3, which
  // ioredis 6 speaks by default, a raw XREADGROUP comes back as a flattened map).
  async function readNew(waitMs: number): Promise<Delivery[]> {
    const reply = (await blockRedis.xreadgroup(
      'GROUP',
      PROCESSORS_GROUP,
      consumer,
      'COUNT',
      batch,
      'BLOCK',
      waitMs,
      'STREAMS',
      stream,
      '>',
    )) as Array<[string, Entry[]]> | null;
    return (reply?.[0]?.[1] ?? []).map(([id, fields]) => ({ id, fields, deliveries: 1 }));
  }

  const present = (async () => {
    while (!stopping.signal.aborted) {
      await refreshPresence(redis, presence, consumer, '-', PRESENCE_TTL_MS).catch(() => undefined);
      await sleep(PRESENCE_TTL_MS / 3, undefined, { signal: stopping.signal }).catch(() => undefined);
    }
    await leavePresence(redis, presence, consumer, '-').catch(() => undefined);
  })();

  const running = (async () => {
    const step = async () => {
      // Both connections: the group is made and the sagas run through the commands connection,
      // which at start may still be connecting (its commands would fail, not queue). That one is
      // shared (with the service's projection) and rebuilt by its owner, so it is only waited for.
      await readyOrReconnect(blockRedis, 3_000, stopping.signal);
      await untilReady(redis, stopping.signal);
      await ensureGroup();
      // The pending list first: what this consumer held before it was restarted is run at once.
      nextPassAt = 0;
      for (;;) {
        if (performance.now() >= nextPassAt) await runPending();
        // Never BLOCK 0 (forever); never past the next look at the pending list.
        const waitMs = Math.max(1, Math.min(blockMs, Math.ceil(nextPassAt - performance.now())));
        await handle(await readNew(waitMs));
      }
    };
    while (!stopping.signal.aborted) {
      try {
        await retry(step, {
          firstMs: 50,
          capMs: 1_000,
          signal: stopping.signal,
          retryable: (error) => !isPermanentRedisError(error),
          onFailure: (error, attempt) => {
            if (attempt === 0) log.warn({ err: errorMessage(error) }, 'processor lost Redis; resuming');
          },
        });
      } catch (error) {
        if (stopping.signal.aborted) return;
        log.error({ err: errorMessage(error) }, 'processor failed on an error no retry fixes; trying again in 5 s');
        await sleep(5_000, undefined, { signal: stopping.signal }).catch(() => {});
      }
    }
  })();

  return {
    get settled() {
      return settled;
    },
    get claimed() {
      return claimed;
    },
    get skipped() {
      return skipped;
    },
    get failed() {
      return failed;
    },
    get parked() {
      return parked;
    },
    async stop() {
      stopping.abort();
      blockRedis.disconnect();
      await running;
      await present;
    },
  };
}
