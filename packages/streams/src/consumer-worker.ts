/**
 * One consumer of a consumer group on one stream, whatever its entries mean. It reads new entries
 * (XREADGROUP) and hands them to `handle`, which says which are done (acknowledged here, or by the
 * handler's own write) and which failed; it reads on while they are handled, up to `batch` entries
 * handled at once. An entry another command delivered to this consumer (a script that appends an
 * entry and reads it for this consumer in the same step, which saves a read's round trip) comes in
 * through a reservation of room (reserve) and is handled as a read one is; reservations made while
 * a read waits can take the entries handled at once up to twice `batch`. A failed entry stays
 * pending and is handed over again from the group's pending list (XPENDING, XCLAIM) once its
 * backoff has passed, growing with each delivery; one that fails at its maxDeliveries-th delivery
 * (for a reason other than Redis being away) goes to `park`, which takes it out of the group's
 * way. The pending list also brings back at once what this consumer held before a restart under
 * the same name (after claimIdleMs while room is reserved: see runPending), and entries another
 * consumer has left idle for claimIdleMs (it died, or backs off longer than that).
 */

import { setTimeout as sleep } from 'node:timers/promises';
import { Unconfirmed } from './confirmed-write.ts';
import { errorMessage } from './errors.ts';
import type { Log } from './log.ts';
import type { RedisClient } from './redis-connection.ts';
import { readyOrReconnect, untilReady } from './redis-connection.ts';
import { isPermanentRedisError, isRedisFull, isRedisNotNow } from './redis-errors.ts';
import { type Backoff, backoffDelay, retry } from './retry.ts';
import type { StreamId } from './stream-id.ts';

/** An entry delivered to this consumer, and how many times the group has delivered it (to anyone). */
export interface Delivery {
  id: StreamId;
  /** Null for an entry deleted from the stream while it was pending. */
  fields: string[] | null;
  deliveries: number;
}

/** A delivery whose handling failed; `about` is what the handler made of the entry. */
export interface FailedDelivery<About> {
  delivery: Delivery;
  error: unknown;
  about: About;
}

export interface Handled<About> {
  /** Entries to acknowledge: handled, or with nothing to do. */
  done: StreamId[];
  /**
   * Entries handled and acknowledged already, by the very write that handled them (a transfer's
   * settlement): not acknowledged again.
   */
  acknowledged?: StreamId[];
  /** Entries left pending: handed over again after a backoff, or parked. */
  failed: Array<FailedDelivery<About>>;
}

export interface ConsumerWorkerOptions<About> {
  /** For the group, the pending list and the acknowledgements. */
  redis: RedisClient;
  /** Dedicated to the blocking XREADGROUP; the worker closes it when stopped. */
  blockRedis: RedisClient;
  log: Log;
  stream: string;
  /** Made (with the stream) from the stream's start if it does not exist. */
  group: string;
  consumer: string;
  /** An entry pending this long with another consumer is taken over. */
  claimIdleMs: number;
  /** Entries handled at once at most (and so read at once); default 200. */
  batch?: number;
  /**
   * Room is reserved (reserve) only while fewer entries than this are handled or promised; default
   * `batch`. A busy worker's reads bring many entries at once, and their handling goes out in few
   * round trips: entries delivered one at a time, elsewhere, would break that up.
   */
  reserveBelow?: number;
  /** The longest a read waits for new entries; default 2 s. */
  blockMs?: number;
  /** An entry that fails at this delivery (or a later one) is parked; default 5. */
  maxDeliveries?: number;
  /** How long a failed entry waits, from its delivery, before it is handed over again; default 500 ms up to 30 s. */
  retryBackoff?: Backoff;
  handle(delivered: Delivery[]): Promise<Handled<About>>;
  /**
   * Takes a failed entry out of the group's way and acknowledges it. Resolves to false when this
   * consumer no longer holds it (nothing done); throws when it could not: the entry stays pending.
   */
  park(failure: FailedDelivery<About>, reason: string): Promise<boolean>;
  /** Told of each failed entry that stays pending, to be handed over again in `retryInMs`. */
  retrying?(failure: FailedDelivery<About>, retryInMs: number): void;
  /**
   * Where the worker counts; the caller's own object when it keeps counts of its own beside these
   * (a transfer processor's), so both are read in one place. Default: a new one.
   */
  counts?: WorkerCounts;
}

/** What a worker has counted since it started. */
export interface WorkerCounts {
  /** Entries taken over from another consumer. */
  claimed: number;
  /** Failed handlings, one per delivery of an entry. */
  failed: number;
  /** Entries parked. */
  parked: number;
}

/**
 * Room for one entry that another command delivers to this consumer (a script's own
 * `XREADGROUP ... >`), held until the entry is taken or the room released.
 */
export interface Reservation {
  /** Hands over the entry that command delivered to this consumer. */
  take(delivery: Delivery): void;
  /** Gives the room back: the command delivered nothing (or failed). */
  release(): void;
}

export interface ConsumerWorker {
  /** Kept up to date by the worker. */
  readonly counts: Readonly<WorkerCounts>;
  /**
   * Room for an entry delivered to this consumer by another command; undefined when there is none
   * (`reserveBelow` entries handled or promised, or the worker stopping). Its entry is handled as a
   * read's.
   */
  reserve(): Reservation | undefined;
  /** Stops reading, closes `blockRedis`, and resolves once the handling under way is over. */
  stop(): Promise<void>;
}

type Entry = [id: string, fields: string[] | null];
/** A row of XPENDING's extended form. */
type PendingRow = [id: string, consumer: string, idleMs: number, deliveries: number];

/**
 * An error that says "not now" (Redis away, loading, busy, full, failing over, or a write its
 * replicas did not confirm yet): no reason to park an entry.
 */
const isTransient = (error: unknown) => isRedisNotNow(error) || isRedisFull(error) || error instanceof Unconfirmed;

export function startConsumerWorker<About>(options: ConsumerWorkerOptions<About>): ConsumerWorker {
  const { redis, blockRedis, log, stream, group, consumer, claimIdleMs } = options;
  const batch = options.batch ?? 200;
  const reserveBelow = Math.min(batch, options.reserveBelow ?? batch);
  if (!Number.isInteger(batch) || batch < 1)
    throw new Error(`batch must be a whole number of at least 1, not ${batch}`);
  if (!Number.isInteger(reserveBelow) || reserveBelow < 0)
    throw new Error(`reserveBelow must be a whole number, not ${options.reserveBelow}`);
  const blockMs = options.blockMs ?? 2_000;
  const maxDeliveries = options.maxDeliveries ?? 5;
  const retryBackoff = options.retryBackoff ?? { firstMs: 500, capMs: 30_000 };
  const stopping = new AbortController();
  const counts = options.counts ?? { claimed: 0, failed: 0, parked: 0 };
  /**
   * This consumer's failed entries: how long each waits, idle, before it is handed over again
   * (drawn once per failure, so the jitter stays put while it waits).
   */
  const retryAfter = new Map<string, number>();
  /**
   * The entries being handled now, and their handlings: new entries are read while earlier ones
   * are still handled (a batch's slowest entry holds back no entry that arrives meanwhile), at
   * most `batch` entries at once. The pending list passes them over: they are not due again.
   */
  const handling = new Set<string>();
  const handlings = new Set<Promise<void>>();
  /** Room promised to entries another command delivers (reserve), not yet taken nor released. */
  let reserved = 0;
  /** A handling beside the reads that failed (Redis lost): the reads stop and start again on it. */
  let handlingFailed: { error: unknown } | undefined;
  /** When (performance.now()) the pending list is next looked at. */
  let nextPassAt = 0;
  const passWithin = (ms: number) => {
    nextPassAt = Math.min(nextPassAt, performance.now() + ms);
  };

  async function ensureGroup(): Promise<void> {
    try {
      await redis.xgroup('CREATE', stream, group, '0', 'MKSTREAM');
      log.info({ stream, group }, `created the ${group} group`);
    } catch (error) {
      if (!/BUSYGROUP/.test(errorMessage(error))) throw error;
    }
  }

  /** Hands `delivered` over; acknowledges what is done, parks or backs off what failed. */
  async function handle(delivered: Delivery[]): Promise<void> {
    if (delivered.length === 0) return;
    const handled = await options.handle(delivered);
    counts.failed += handled.failed.length;
    await Promise.all(handled.failed.map(failedDelivery));
    if (handled.done.length > 0) await redis.xack(stream, group, ...handled.done);
    for (const id of [...handled.done, ...(handled.acknowledged ?? [])]) retryAfter.delete(id);
  }

  /**
   * Hands `delivered` over without waiting for it; its failure surfaces at the next read. An entry
   * already being handled is left to that handling (delivered again through `>` when the group's
   * position went back, a failover's data loss or XGROUP SETID): it acknowledges the entry or sets
   * when it is due again.
   */
  function handOver(all: Delivery[]): void {
    const delivered = all.filter(({ id }) => !handling.has(id));
    if (delivered.length === 0) return;
    for (const { id } of delivered) handling.add(id);
    const handled: Promise<void> = handle(delivered)
      .catch((error: unknown) => {
        if (handlingFailed === undefined && !stopping.signal.aborted) {
          log.warn({ stream, group, err: errorMessage(error) }, 'handling entries failed; reading again');
        }
        handlingFailed ??= { error };
      })
      .finally(() => {
        for (const { id } of delivered) handling.delete(id);
        handlings.delete(handled);
      });
    handlings.add(handled);
  }

  function throwIfHandlingFailed(): void {
    const failed = handlingFailed;
    handlingFailed = undefined;
    if (failed) throw failed.error;
  }

  /** The entry is parked at its maxDeliveries-th delivery, else handed over again later. */
  async function failedDelivery(failure: FailedDelivery<About>): Promise<void> {
    const { id, deliveries } = failure.delivery;
    if (deliveries >= maxDeliveries && !isTransient(failure.error)) {
      try {
        if (await options.park(failure, errorMessage(failure.error))) counts.parked++;
        retryAfter.delete(id);
        return;
      } catch {
        // not parked: it stays pending and is tried again after its backoff
      }
    }
    const waitMs = backoffDelay(deliveries - 1, retryBackoff);
    retryAfter.set(id, waitMs);
    passWithin(waitMs);
    options.retrying?.(failure, waitMs);
  }

  /**
   * Hands over what is pending and due again, a page of the group's pending list at a time: this
   * consumer's entries once idle for their backoff (those it held before a restart at once, or
   * after claimIdleMs while room is reserved), another consumer's once idle for claimIdleMs. Sets
   * when to look again: at the latest in claimIdleMs / 4, sooner when an entry is due sooner.
   */
  async function runPending(): Promise<void> {
    nextPassAt = performance.now() + claimIdleMs / 4;
    const seen = new Set<string>();
    for (let start = '-'; !stopping.signal.aborted; ) {
      const rows = (await redis.xpending(stream, group, start, '+', batch)) as PendingRow[];
      const deliveries = new Map<string, number>();
      const own: string[] = [];
      const others: string[] = [];
      let ownIdle = Number.POSITIVE_INFINITY;
      for (const [id, owner, idle, times] of rows) {
        seen.add(id);
        // Being handled here (even if another consumer claimed it since): not handed over twice.
        if (handling.has(id)) continue;
        const mine = owner === consumer;
        if (!mine) retryAfter.delete(id);
        // An entry of its own with no backoff was held before a restart: due at once. Unless room is
        // reserved: then it may be one a script has just delivered, whose take is on its way, and it
        // waits as another consumer's does (claimed now, its delivery would count twice).
        const after = mine ? (retryAfter.get(id) ?? (reserved > 0 ? claimIdleMs : 0)) : claimIdleMs;
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
          : ((await redis.xclaim(stream, group, consumer, minIdle, ...ids)) as Entry[]).filter(
              (entry) => entry !== null,
            );
      // No more than there is room for: the rest is looked at again as soon as a handling ends.
      const room = Math.max(0, batch - handling.size - reserved);
      const full = own.length + others.length > room;
      if (full) {
        own.splice(room);
        others.splice(room - own.length);
        nextPassAt = 0;
      }
      const retried = await claim(own, ownIdle);
      const takenOver = await claim(others, claimIdleMs);
      if (takenOver.length > 0) {
        counts.claimed += takenOver.length;
        log.info({ stream, group, entries: takenOver.length }, 'claimed entries another consumer left pending');
      }
      handOver([...retried, ...takenOver].map(([id, fields]) => ({ id, fields, deliveries: deliveries.get(id) ?? 1 })));
      if (full) return;
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
  async function readNew(waitMs: number, count: number): Promise<Delivery[]> {
    const reply = (await blockRedis.xreadgroup(
      'GROUP',
      group,
      consumer,
      'COUNT',
      count,
      'BLOCK',
      waitMs,
      'STREAMS',
      stream,
      '>',
    )) as Array<[string, Entry[]]> | null;
    return (reply?.[0]?.[1] ?? []).map(([id, fields]) => ({ id, fields, deliveries: 1 }));
  }

  const running = (async () => {
    const step = async () => {
      // A handling's failure from before this (re)start is what restarted it: handled by restarting.
      handlingFailed = undefined;
      // Both connections: the group is made and the entries handled through the commands
      // connection, which at start may still be connecting (its commands would fail, not queue).
      // That one may be shared and rebuilt by its owner, so it is only waited for.
      await readyOrReconnect(blockRedis, 3_000, stopping.signal);
      await untilReady(redis, stopping.signal);
      await ensureGroup();
      // The pending list first: what this consumer held before it was restarted is handed over at
      // once (unless room is reserved already: see runPending).
      nextPassAt = 0;
      for (;;) {
        throwIfHandlingFailed();
        if (performance.now() >= nextPassAt) await runPending();
        const room = batch - handling.size - reserved;
        if (room <= 0) {
          // batch >= 1: a full hand means at least one handling, or a reservation, to wait for.
          await (handlings.size > 0 ? Promise.race(handlings) : sleep(1));
          continue;
        }
        // Never BLOCK 0 (forever); never past the next look at the pending list.
        const waitMs = Math.max(1, Math.min(blockMs, Math.ceil(nextPassAt - performance.now())));
        handOver(await readNew(waitMs, room));
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
            if (attempt === 0) log.warn({ stream, group, err: errorMessage(error) }, 'consumer lost Redis; resuming');
          },
        });
      } catch (error) {
        if (stopping.signal.aborted) return;
        log.error(
          { stream, group, err: errorMessage(error) },
          'consumer failed on an error no retry fixes; trying again in 5 s',
        );
        await sleep(5_000, undefined, { signal: stopping.signal }).catch(() => {});
      }
    }
  })();

  return {
    counts,
    reserve() {
      if (stopping.signal.aborted || handling.size + reserved >= reserveBelow) return undefined;
      reserved++;
      let open = true;
      const close = () => {
        if (!open) return false;
        open = false;
        reserved--;
        return true;
      };
      return {
        // A worker stopped meanwhile leaves the entry pending under this consumer: handed over at
        // its next start under the same name, or claimed by another consumer once idle.
        take: (delivery) => {
          if (close() && !stopping.signal.aborted) handOver([delivery]);
        },
        release: () => {
          close();
        },
      };
    },
    async stop() {
      stopping.abort();
      blockRedis.disconnect();
      await running;
      await Promise.all(handlings);
    },
  };
}
