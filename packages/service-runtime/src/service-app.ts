/**
 * The Hono app every service starts from: health, readiness and metrics endpoints, request
 * counting, a body limit, and the one place that turns errors into JSON responses.
 */
import { hostname } from 'node:os';
import type { HttpBindings } from '@hono/node-server';
import { isRedisFull, isRedisNotNow, Unconfirmed } from '@microbank/streams';
import { type Context, Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import { routePath } from 'hono/route';
import { errorBody, httpError } from './http-errors.ts';
import type { Logger } from './logger.ts';
import type { ServiceMetrics } from './metrics.ts';

/** `details` go into the /readyz body as they are, e.g. a projection's stream position. */
export type Readiness =
  | { ready: true; details?: Record<string, string> }
  | { ready: false; reason: string; details?: Record<string, string> };

export interface ServiceAppOptions {
  log: Logger;
  metrics: ServiceMetrics;
  readiness: () => Readiness;
}

/**
 * Which process answers: a watcher that sees `instance` or `startedAt` change knows the service
 * was restarted in between, however fast it came back.
 */
const PROCESS_IDENTITY = { instance: `${hostname()}/${process.pid}`, startedAt: new Date().toISOString() };

/** No request body is larger than this; a larger one is refused (413) before it is read. */
export const MAX_BODY_BYTES = 16 * 1024;

export function createServiceApp({ log, metrics, readiness }: ServiceAppOptions): Hono {
  const app = new Hono();

  app.use('*', async (c, next) => {
    const started = performance.now();
    await next();
    const route = routePath(c, -1);
    const labels = {
      method: c.req.method,
      route: route === '*' || route === '/*' ? 'unmatched' : route,
      status: String(c.res.status),
    };
    metrics.httpRequests.inc(labels);
    metrics.httpDuration.observe(labels, (performance.now() - started) / 1_000);
  });

  const tooLarge = (): never => {
    throw httpError(413, `request bodies are limited to ${MAX_BODY_BYTES} bytes`);
  };
  const limitBody = bodyLimit({ maxSize: MAX_BODY_BYTES, onError: tooLarge });
  app.use('*', (c, next) => {
    // Node's HTTP parser hands a request exactly its Content-Length's bytes (none without one), so
    // without Transfer-Encoding the header alone says how large the body is. Asking node-server for
    // the body, as hono's bodyLimit does, would build a whole fetch Request around it (a web stream,
    // an AbortSignal): a third of the CPU a GET /accounts cost, and a tenth of a transfer replica's
    // under load. A chunked body has no such header, and bodyLimit counts it as it comes.
    const headers = (c.env as Partial<HttpBindings> | undefined)?.incoming?.headers;
    if (!headers || headers['transfer-encoding'] !== undefined) return limitBody(c, next);
    if (Number(headers['content-length'] ?? 0) > MAX_BODY_BYTES) tooLarge();
    return next();
  });

  getOnly(app, '/healthz', (c) => c.json({ status: 'alive', ...PROCESS_IDENTITY }));

  getOnly(app, '/readyz', (c) => {
    const state = readiness();
    if (!state.ready) throw httpError(503, state.reason, state.details, { 'retry-after': '1' });
    return c.json({ status: 'ready', ...state.details });
  });

  getOnly(app, '/metrics', async (c) => {
    const body = await metrics.registry.metrics();
    return c.body(body, 200, { 'content-type': metrics.registry.contentType });
  });

  app.notFound((c) => c.json(errorBody(404, `no route ${c.req.method} ${c.req.path}`), 404));

  app.onError((error, c) => {
    if (error instanceof HTTPException) return error.getResponse();
    if (isRedisNotNow(error)) {
      return c.json(errorBody(503, 'Redis is not answering right now; try again'), 503, { 'retry-after': '1' });
    }
    if (error instanceof Unconfirmed) {
      return c.json(
        errorBody(
          503,
          'the write was made but no replica confirmed it yet: its outcome is indeterminate; send it again',
        ),
        503,
        { 'retry-after': '1' },
      );
    }
    if (isRedisFull(error)) {
      log.warn({ method: c.req.method, path: c.req.path }, 'Redis is full: a write was refused');
      return c.json(errorBody(503, 'the bank is out of room for now; try again later'), 503, { 'retry-after': '5' });
    }
    log.error({ err: error, method: c.req.method, path: c.req.path }, 'request failed');
    return c.json(errorBody(500, 'internal error; see the service log'), 500);
  });

  return app;
}

type Handler = (c: Context) => Response | Promise<Response>;

/** A route answering the methods given (GET with HEAD); any other method gets a 405 JSON answer naming them. */
export function route(app: Hono, path: string, handlers: { get?: Handler; post?: Handler }): void {
  const allowed: string[] = [];
  if (handlers.get) {
    app.get(path, handlers.get);
    allowed.push('GET', 'HEAD');
  }
  if (handlers.post) {
    app.post(path, handlers.post);
    allowed.push('POST');
  }
  const use = allowed.filter((method) => method !== 'HEAD').join(' or ');
  app.all(path, (c) => {
    throw httpError(405, `${c.req.method} is not allowed on ${path}; use ${use}`, {}, { allow: allowed.join(', ') });
  });
}

/** A GET route (HEAD included) whose other methods get a 405 JSON answer naming what is allowed. */
export function getOnly(app: Hono, path: string, handler: Handler): void {
  route(app, path, { get: handler });
}
