/**
 * Prometheus metrics: one registry per service, HTTP request counts and durations, projection position and lag.
 * Times are in seconds (Prometheus' base unit). Every series carries `microbank_service`, the service's
 * name: not `service`, which is one of the target labels the Prometheus Operator attaches itself (ours
 * would be renamed `exported_service`).
 */
import { type Projection, streamIdMillis, withDeadline } from '@microbank/streams';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export interface ServiceMetrics {
  registry: Registry;
  httpRequests: Counter<'method' | 'route' | 'status'>;
  httpDuration: Histogram<'method' | 'route' | 'status'>;
}

/**
 * How often the event loop's delay is sampled (`nodejs_eventloop_lag_*`: prom-client's timer, how
 * late it fires). prom-client's default is 10 ms: a hundred wakeups a second in every process, which
 * an idle service spent three quarters of its CPU on (8 ms a second against 2, measured on the
 * account service). The price: a stall is seen only if a sample falls due during it, and only its
 * part after that; one of 100 ms or more always is, a shorter one by chance (a 30 ms stall about
 * one time in three). These gauges show the long stalls; HTTP latency shows the rest.
 */
export const EVENT_LOOP_SAMPLE_MS = 100;

export function createMetrics(service: string): ServiceMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ microbank_service: service });
  collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: EVENT_LOOP_SAMPLE_MS });
  const httpRequests = new Counter({
    name: 'microbank_http_requests_total',
    help: 'HTTP requests answered, by method, route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [registry],
  });
  const httpDuration = new Histogram({
    name: 'microbank_http_request_duration_seconds',
    help: 'How long HTTP requests took to answer, by method, route pattern and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    registers: [registry],
  });
  return { registry, httpRequests, httpDuration };
}

/** Labels every series of a metric carries (its projection's name, say). */
type Labels = Record<string, string>;

/**
 * Metrics as a table, one row per metric, `name: [help, read]`: at each scrape every row's `read`
 * is given what `source()` returns then.
 */
export type MetricRows<Source> = Record<string, readonly [help: string, read: (source: Source) => number]>;

/**
 * The metrics of two tables read from one source: `gauges` show what their `read` gives at each
 * scrape; `totals` are counters of a running total kept elsewhere (a projection's applied entries,
 * say), to which each scrape adds what the total grew by since the last one.
 */
export function registerMetrics<Source>(
  registry: Registry,
  source: () => Source,
  { gauges = {}, totals = {} }: { gauges?: MetricRows<Source>; totals?: MetricRows<Source> },
  labels: Labels = {},
): void {
  const labelNames = Object.keys(labels);
  const registers = [registry];
  for (const [name, [help, read]] of Object.entries(gauges)) {
    new Gauge({
      name,
      help,
      labelNames,
      registers,
      collect() {
        this.set(labels, read(source()));
      },
    });
  }
  for (const [name, [help, read]] of Object.entries(totals)) {
    let seen = 0;
    new Counter({
      name,
      help,
      labelNames,
      registers,
      collect() {
        const now = read(source());
        this.inc(labels, now - seen);
        seen = now;
      },
    });
  }
}

/** How long a scrape waits for Redis to tell the stream's end before leaving lag out. */
const LAG_QUERY_TIMEOUT_MS = 500;

/** A projection's gauges, each labelled with the projection's name. */
const PROJECTION_GAUGES: MetricRows<Projection> = {
  microbank_projection_ready: ['1 when the projection has caught up and serves, else 0', (p) => Number(p.ready)],
  microbank_projection_failed: ['1 while it fails on an error no retry fixes', (p) => Number(p.status === 'failed')],
  microbank_projection_diverged: ['1 when the stream lost entries it applied', (p) => Number(p.status === 'diverged')],
  microbank_projection_position_seconds: ['Time part of its stream position', (p) => streamIdMillis(p.position) / 1000],
};

/** A projection's totals, each labelled with the projection's name. */
const PROJECTION_TOTALS: MetricRows<Projection> = {
  microbank_projection_applied_entries_total: ['Stream entries applied to the projection', (p) => p.applied],
  microbank_projection_skipped_entries_total: ['Stream entries skipped because they did not decode', (p) => p.skipped],
  microbank_projection_failures_total: ['Times the projection failed on an error no retry fixes', (p) => p.failures],
};

export function registerProjectionMetrics({ registry }: ServiceMetrics, projection: Projection): void {
  const labels = { projection: projection.name };
  registerMetrics(registry, () => projection, { gauges: PROJECTION_GAUGES, totals: PROJECTION_TOTALS }, labels);
  new Gauge({
    name: 'microbank_projection_lag_seconds',
    help: "Time part of the stream's last ID minus the projection's position, in seconds; absent when Redis does not answer",
    labelNames: ['projection'],
    registers: [registry],
    async collect() {
      this.reset();
      const end = await withDeadline(projection.streamEnd(), LAG_QUERY_TIMEOUT_MS, 'stream end').catch(() => undefined);
      if (end !== undefined)
        this.set(labels, Math.max(0, streamIdMillis(end) - streamIdMillis(projection.position)) / 1000);
    },
  });
}
