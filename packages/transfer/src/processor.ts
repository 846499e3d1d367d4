/**
 * A transfer processor: one consumer of the `processors` group on the transfers stream. It reads
 * new requests (XREADGROUP), runs each one's saga, and acknowledges an entry only once its
 * transfer is settled. Entries another consumer took and has not acknowledged for a while (it
 * died mid-transfer) are claimed (XAUTOCLAIM) and finished here; its own unacknowledged entries
 * are read again after a restart under the same name. Events that are not requests, or that do
 * not decode, are acknowledged and counted.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  decodeEntry,
  errorMessage,
  isPermanentRedisError,
  type Log,
  leavePresence,
  PROCESSORS_GROUP,
  processorsPresenceKey,
  readyOrReconnect,
  refreshPresence,
  retry,
  transferEvents,
  transfersKey,
  untilReady,
} from '@microbank/events';
import type { RedisClient } from '@microbank/ledger';
import { runSaga } from './saga.ts';
import { type TransferStatus, transferStatuses } from './transfer-log.ts';

export { PROCESSORS_GROUP };

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
}

export interface Processor {
  readonly settled: number;
  readonly claimed: number;
  /** Entries acknowledged without a saga: not a request, or not decodable. */
  readonly skipped: number;
  /** Sagas that failed (Redis away): their entries stay pending and are run again. */
  readonly failed: number;
  stop(): Promise<void>;
}

type Entry = [id: string, fields: string[]];

export function startProcessor(options: ProcessorOptions): Processor {
  const { redis, blockRedis, log, consumer, claimIdleMs, prefix } = options;
  const batch = options.batch ?? 200;
  const blockMs = options.blockMs ?? 2_000;
  const stream = transfersKey(prefix);
  const presence = processorsPresenceKey(prefix);
  const stopping = new AbortController();
  let settled = 0;
  let claimed = 0;
  let skipped = 0;
  let failed = 0;

  async function ensureGroup(): Promise<void> {
    try {
      await redis.xgroup('CREATE', stream, PROCESSORS_GROUP, '0', 'MKSTREAM');
      log.info({ stream, group: PROCESSORS_GROUP }, 'created the processors group');
    } catch (error) {
      if (!/BUSYGROUP/.test(errorMessage(error))) throw error;
    }
  }

  /** Runs the sagas of `entries` at once; acknowledges every entry whose transfer is settled. */
  async function handle(entries: Entry[]): Promise<void> {
    if (entries.length === 0) return;
    const done: string[] = [];
    const requests: Array<{ id: string; status: TransferStatus }> = [];
    for (const [id, fields] of entries) {
      const decoded = decodeEntry(transferEvents, fields ?? []);
      if (!decoded.ok || decoded.event.type !== 'TransferRequested') {
        if (!decoded.ok) log.warn({ id, reason: decoded.reason }, 'skipped a transfers entry that does not decode');
        skipped++;
        done.push(id);
        continue;
      }
      const { transfer, from, to, amount, requestedAt } = decoded.event.data;
      requests.push({ id, status: { transfer, status: 'pending', from, to, amount, requestedAt, position: id } });
    }
    const known = await transferStatuses(
      redis,
      requests.map(({ status }) => status.transfer),
      prefix,
    );
    await Promise.all(
      requests.map(async ({ id, status }, i) => {
        const current = known[i];
        if (current && current.status !== 'pending') {
          done.push(id);
          return;
        }
        try {
          await runSaga(redis, current ?? status, prefix);
          settled++;
          done.push(id);
        } catch (error) {
          failed++;
          log.warn(
            { transfer: status.transfer, err: errorMessage(error) },
            'transfer not settled yet; it stays pending',
          );
        }
      }),
    );
    if (done.length > 0) await redis.xack(stream, PROCESSORS_GROUP, ...done);
  }

  /** Takes over entries idle with other consumers (a processor that died), a batch at a time. */
  async function claimAbandoned(): Promise<void> {
    let cursor = '0-0';
    do {
      const [next, entries] = (await redis.xautoclaim(
        stream,
        PROCESSORS_GROUP,
        consumer,
        claimIdleMs,
        cursor,
        'COUNT',
        batch,
      )) as [string, Entry[]];
      const live = entries.filter((entry) => entry !== null && entry[1] !== null);
      if (live.length > 0) {
        claimed += live.length;
        log.info({ entries: live.length }, 'claimed transfers another processor left pending');
        await handle(live);
      }
      cursor = next;
    } while (cursor !== '0-0' && !stopping.signal.aborted);
  }

  // The named command, not a raw call: ioredis shapes the reply only for it (under RESP3, which
  // ioredis 6 speaks by default, a raw XREADGROUP comes back as a flattened map).
  async function readGroup(from: '0' | '>'): Promise<Entry[]> {
    const reply = (
      from === '>'
        ? await blockRedis.xreadgroup(
            'GROUP',
            PROCESSORS_GROUP,
            consumer,
            'COUNT',
            batch,
            'BLOCK',
            blockMs,
            'STREAMS',
            stream,
            '>',
          )
        : await blockRedis.xreadgroup('GROUP', PROCESSORS_GROUP, consumer, 'COUNT', batch, 'STREAMS', stream, '0')
    ) as Array<[string, Entry[]]> | null;
    return reply?.[0]?.[1] ?? [];
  }

  const present = (async () => {
    while (!stopping.signal.aborted) {
      await refreshPresence(redis, presence, consumer, '-', PRESENCE_TTL_MS).catch(() => undefined);
      await sleep(PRESENCE_TTL_MS / 3, undefined, { signal: stopping.signal }).catch(() => undefined);
    }
    await leavePresence(redis, presence, consumer, '-').catch(() => undefined);
  })();

  const running = (async () => {
    let lastClaim = 0;
    const step = async () => {
      // Both connections: the group is made and the sagas run through the commands connection,
      // which at start may still be connecting (its commands would fail, not queue). That one is
      // shared (with the service's projection) and rebuilt by its owner, so it is only waited for.
      await readyOrReconnect(blockRedis, 3_000, stopping.signal);
      await untilReady(redis, stopping.signal);
      await ensureGroup();
      // What this consumer read and did not acknowledge before it was restarted.
      for (let own = await readGroup('0'); own.length > 0; own = await readGroup('0')) {
        await handle(own);
        if (own.length < batch) break;
      }
      for (;;) {
        if (performance.now() - lastClaim >= claimIdleMs / 4) {
          lastClaim = performance.now();
          await claimAbandoned();
        }
        await handle(await readGroup('>'));
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
    async stop() {
      stopping.abort();
      blockRedis.disconnect();
      await running;
      await present;
    },
  };
}
