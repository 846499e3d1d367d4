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

export function createMetrics(service: string): ServiceMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ microbank_service: service });
  collectDefaultMetrics({ register: registry });
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

/** How long a scrape waits for Redis to tell the stream's end before leaving lag out. */
const LAG_QUERY_TIMEOUT_MS = 500;

/**
 * A Prometheus counter that follows a running total kept elsewhere (a projection's applied
 * entries, say): on each scrape it adds what the total grew by since the last one.
 */
export function followTotal(
  registry: Registry,
  {
    name,
    help,
    read,
    labels = {},
  }: { name: string; help: string; read: () => number; labels?: Record<string, string> },
): void {
  let seen = 0;
  new Counter({
    name,
    help,
    labelNames: Object.keys(labels),
    registers: [registry],
    collect() {
      const now = read();
      this.inc(labels, now - seen);
      seen = now;
    },
  });
}

export function registerProjectionMetrics({ registry }: ServiceMetrics, projection: Projection): void {
  const labelNames = ['projection'] as const;
  const labels = { projection: projection.name };
  const registers = [registry];
  /** A gauge of this projection that shows `read()` at each scrape. */
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers,
      collect() {
        this.set(labels, read());
      },
    });
  gauge('microbank_projection_ready', '1 when the projection has caught up and serves, else 0', () =>
    projection.ready ? 1 : 0,
  );
  gauge(
    'microbank_projection_failed',
    '1 while the projection cannot read a stream for a reason no retry fixes (WRONGTYPE, ...), else 0',
    () => (projection.status === 'failed' ? 1 : 0),
  );
  gauge(
    'microbank_projection_diverged',
    '1 when the stream ends before what the projection applied (Redis lost data)',
    () => (projection.status === 'diverged' ? 1 : 0),
  );
  const totalOf = (name: string, help: string, read: () => number) =>
    followTotal(registry, { name, help, read, labels });
  totalOf(
    'microbank_projection_applied_entries_total',
    'Stream entries applied to the projection',
    () => projection.applied,
  );
  totalOf(
    'microbank_projection_skipped_entries_total',
    'Stream entries skipped because they did not decode (malformed, too large, unknown type, future version)',
    () => projection.skipped,
  );
  totalOf(
    'microbank_projection_failures_total',
    'Times the projection failed on an error no retry fixes (it then tries again now and then)',
    () => projection.failures,
  );
  gauge(
    'microbank_projection_position_seconds',
    'Time part of the stream ID the projection has consumed up to, in seconds since the epoch',
    () => streamIdMillis(projection.position) / 1000,
  );
  new Gauge({
    name: 'microbank_projection_lag_seconds',
    help: "Time part of the stream's last ID minus the projection's position, in seconds; absent when Redis does not answer",
    labelNames,
    registers,
    async collect() {
      this.reset();
      const end = await withDeadline(projection.streamEnd(), LAG_QUERY_TIMEOUT_MS, 'stream end').catch(() => undefined);
      if (end !== undefined)
        this.set(labels, Math.max(0, streamIdMillis(end) - streamIdMillis(projection.position)) / 1000);
    },
  });
}
