/**
 * What the page shows of transfers and disruptions as they happen: a live projection (nothing
 * replayed: it takes the streams up at their ends) of the transfers stream and of
 * `microbank:disruptions`, seeded with the last transfers so that a page opened now is not empty.
 */

import {
  type DisruptionEvent,
  disruptionEvents,
  streamKey,
  type TransferEvent,
  transferEvents,
  transfersKey,
} from '@microbank/events';
import {
  connectRedis,
  decodeEntry,
  decodeEntryBuffers,
  type EventCatalog,
  type Log,
  type Projection,
  type RedisAt,
  type RedisClient,
  retry,
  startProjection,
  untilReady,
} from '@microbank/streams';
import type { RecentTransfer, TransferLatency } from './sections.ts';
import { latencyWindow } from './transfer-latency.ts';

export interface Kill {
  at: number;
  component: string;
  by: string;
}

const RECENT = 15;
/** Entries of each stream read back at start. */
const SEEDED = 200;
const RATE_WINDOW_MS = 5_000;
/** How often settlements are looked at for leaving the latency window on a quiet bank. */
const LATENCY_LOOK_MS = 1_000;

export interface TransferFeed {
  recent(): RecentTransfer[];
  /** Settled (completed or rejected) per second over the last few seconds. */
  ratePerSecond(): number;
  /** Request to settlement, by the entries' IDs, over the last minute's settlements. */
  latency(): TransferLatency;
  kills(): Kill[];
  projection: Projection;
  stop(): Promise<void>;
}

export function startTransferFeed(options: {
  redisAt: RedisAt;
  redis: RedisClient;
  log: Log;
  /** What changed: the transfers shown, or the kills on the timeline. */
  onChange: (section: 'transfers' | 'timeline') => void;
  /** A kill reported as it happens (not one read back at start). */
  onKill?: (kill: Kill) => void;
}): TransferFeed {
  const { redis, log, onChange } = options;
  const transfers = transfersKey();
  const disruptions = streamKey('disruptions');
  const recent: RecentTransfer[] = [];
  const settledAt: number[] = [];
  const latency = latencyWindow();
  const kills: Kill[] = [];
  const stopping = new AbortController();

  function apply(event: TransferEvent | DisruptionEvent, id: string, live: boolean): void {
    switch (event.type) {
      case 'TransferRequested': {
        const { transfer, from, to, amount } = event.data;
        recent.unshift({ transfer, from, to, amount, status: 'pending', id });
        if (recent.length > RECENT) recent.length = RECENT;
        latency.requested(transfer, id);
        break;
      }
      case 'TransferCompleted':
      case 'TransferRejected': {
        const known = recent.find((item) => item.transfer === event.data.transfer);
        if (known) {
          known.status = event.type === 'TransferCompleted' ? 'completed' : 'rejected';
          if (event.type === 'TransferRejected') known.reason = event.data.reason;
        }
        if (live) settledAt.push(Date.now());
        latency.settled(event.data.transfer, id);
        break;
      }
      case 'ComponentKilled': {
        const kill = { at: Date.parse(event.data.at), component: event.data.component, by: event.data.by };
        kills.push(kill);
        if (kills.length > 200) kills.shift();
        if (live) options.onKill?.(kill);
        break;
      }
    }
    onChange(event.type === 'ComponentKilled' ? 'timeline' : 'transfers');
  }

  const projection = startProjection<TransferEvent | DisruptionEvent>({
    name: 'dashboard-feed',
    streams: [transfers, disruptions],
    redis,
    tailRedis: connectRedis(options.redisAt, 'dashboard:feed', log),
    log,
    replay: false,
    decode: (stream, fields) =>
      stream === transfers ? decodeEntryBuffers(transferEvents, fields) : decodeEntryBuffers(disruptionEvents, fields),
    apply: (event, id) => apply(event, id, true),
  });

  // The last transfers and kills before now, so that a page opened on a quiet bank, or on a
  // dashboard that just restarted, shows what happened lately.
  void retry(
    async () => {
      const seed = async <Event extends TransferEvent | DisruptionEvent>(
        stream: string,
        catalog: EventCatalog<Event>,
      ) => {
        const last = (await redis.xrevrange(stream, '+', '-', 'COUNT', SEEDED)) as Array<[string, string[]]>;
        for (const [id, fields] of last.reverse()) {
          const decoded = decodeEntry(catalog, fields);
          if (decoded.ok) apply(decoded.event, id, false);
        }
      };
      await seed(transfers, transferEvents);
      await seed(disruptions, disruptionEvents);
    },
    { firstMs: 50, capMs: 1_000, beforeAttempt: () => untilReady(redis), signal: stopping.signal },
  ).catch(() => {});

  // With no transfer settling, nothing else would tell the page that the figures aged out.
  const latencyLook = setInterval(() => {
    if (latency.prune(Date.now())) onChange('transfers');
  }, LATENCY_LOOK_MS);
  latencyLook.unref();

  return {
    recent: () => recent.map((item) => ({ ...item })),
    ratePerSecond() {
      const since = Date.now() - RATE_WINDOW_MS;
      while (settledAt.length > 0 && (settledAt[0] as number) < since) settledAt.shift();
      return settledAt.length / (RATE_WINDOW_MS / 1_000);
    },
    latency: () => latency.figures(Date.now()),
    kills: () => [...kills],
    projection,
    stop: () => {
      clearInterval(latencyLook);
      stopping.abort();
      return projection.stop();
    },
  };
}
