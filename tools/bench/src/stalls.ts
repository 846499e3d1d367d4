/**
 * What stalled while a load ran, from the parts themselves: Redis's latency monitor (its main thread
 * blocked on a command, an fsync, an expiry cycle... for at least LATENCY_THRESHOLD_MS) and each
 * service's event loop, as its /metrics reports it (prom-client's default metrics: the loop's delay,
 * sampled every EVENT_LOOP_SAMPLE_MS, each sample the whole period, so the delay is what exceeds it;
 * and the time spent in garbage collection). Both are reset at the start, so the figures are of the
 * load alone.
 */
import { EVENT_LOOP_SAMPLE_MS } from '@microbank/service-runtime';
import type { RedisClient } from '@microbank/streams';

/** Redis records an event of its main thread that took at least this long. */
export const LATENCY_THRESHOLD_MS = 5;

export interface RedisStall {
  /** Redis's name for it: command, fast-command, aof-fsync-always, expire-cycle, ... */
  event: string;
  maxMs: number;
}

export interface ServiceStalls {
  kind: string;
  services: number;
  /** The largest delay of any of their event loops (beyond its timer's period), and the largest of their p99s. */
  loopDelayMaxMs: number;
  loopDelayP99Ms: number;
  /** Garbage collection, summed over them, per second of the load. */
  gcMsPerSecond: number;
}

export interface Stalls {
  seconds: number;
  /** The latency of the run watched (watching perturbs it). */
  p99Ms?: number;
  p999Ms?: number;
  redis: RedisStall[];
  services: ServiceStalls[];
}

export interface WatchedService {
  kind: string;
  port: number;
}

/** The value of each series of `name` in a Prometheus text page, summed when it has several. */
function metric(page: string, name: string): number {
  let sum = 0;
  for (const line of page.split('\n')) {
    if (line.startsWith(`${name} `) || line.startsWith(`${name}{`))
      sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

async function scrape(port: number): Promise<string> {
  const answer = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5_000) });
  return answer.text();
}

/** Starts watching; `end()` says what stalled since. */
export async function watchStalls(redis: RedisClient, services: WatchedService[]) {
  await redis.call('CONFIG', 'SET', 'latency-monitor-threshold', String(LATENCY_THRESHOLD_MS));
  await redis.call('LATENCY', 'RESET');
  // A scrape resets the loop delay's histogram: the next one is of the load alone. GC time is a total.
  const gcBefore = await Promise.all(
    services.map(async ({ port }) => metric(await scrape(port), 'nodejs_gc_duration_seconds_sum')),
  );
  const started = performance.now();
  return {
    async end(): Promise<Stalls> {
      const seconds = (performance.now() - started) / 1_000;
      const pages = await Promise.all(services.map(({ port }) => scrape(port)));
      const latest = (await redis.call('LATENCY', 'LATEST')) as Array<[string, number, number, number]>;
      await redis.call('CONFIG', 'SET', 'latency-monitor-threshold', '0');
      const byKind = new Map<string, ServiceStalls>();
      pages.forEach((page, i) => {
        const { kind } = services[i] as WatchedService;
        const each = byKind.get(kind) ?? { kind, services: 0, loopDelayMaxMs: 0, loopDelayP99Ms: 0, gcMsPerSecond: 0 };
        each.services++;
        const delay = (name: string) => Math.max(0, 1_000 * metric(page, name) - EVENT_LOOP_SAMPLE_MS);
        each.loopDelayMaxMs = Math.max(each.loopDelayMaxMs, delay('nodejs_eventloop_lag_max_seconds'));
        each.loopDelayP99Ms = Math.max(each.loopDelayP99Ms, delay('nodejs_eventloop_lag_p99_seconds'));
        const gcMs = 1_000 * (metric(page, 'nodejs_gc_duration_seconds_sum') - (gcBefore[i] ?? 0));
        each.gcMsPerSecond += gcMs / seconds;
        byKind.set(kind, each);
      });
      return {
        seconds,
        redis: latest.map(([event, , , maxMs]) => ({ event, maxMs })).sort((a, b) => b.maxMs - a.maxMs),
        services: [...byKind.values()],
      };
    },
  };
}
