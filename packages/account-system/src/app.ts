/**
 * account-system's HTTP API. `GET /accounts` answers from the registry projection; with
 * `?position=<stream ID>` (the ID an append returned) it first waits, bounded, until the
 * projection has applied that entry: read-your-writes.
 */
import { type AccountsRegistry, accountNames, isStreamId, type Projection } from '@microbank/events';
import {
  assertServing,
  createServiceApp,
  type FastRoute,
  getOnly,
  httpError,
  type Logger,
  projectionReadiness,
  type ServiceMetrics,
} from '@microbank/service-runtime';
import type { Hono } from 'hono';

export const POSITION_HEADER = 'x-microbank-position';

export interface AccountSystemAppOptions {
  log: Logger;
  metrics: ServiceMetrics;
  registry: AccountsRegistry;
  projection: Projection;
  /** The longest a read with `?position=` waits for the projection to get there. */
  readWaitMaxMs: number;
}

interface AccountsBody {
  text: string;
  bytes: Buffer;
}

/** The body of GET /accounts. It changes only when the registry does: built once per change. */
function accountsBody(registry: AccountsRegistry): () => AccountsBody {
  let cached = { version: -1, body: { text: '', bytes: Buffer.alloc(0) } };
  return () => {
    if (cached.version !== registry.version) {
      const text = JSON.stringify({ accounts: accountNames(registry) });
      cached = { version: registry.version, body: { text, bytes: Buffer.from(text) } };
    }
    return cached.body;
  };
}

/** The bodies of both ways GET /accounts is answered, per registry, so they are one and the same. */
const bodies = new WeakMap<AccountsRegistry, () => AccountsBody>();
function sharedAccountsBody(registry: AccountsRegistry): () => AccountsBody {
  let body = bodies.get(registry);
  if (body === undefined) {
    body = accountsBody(registry);
    bodies.set(registry, body);
  }
  return body;
}

export function createAccountSystemApp(options: AccountSystemAppOptions): Hono {
  const { registry, projection, readWaitMaxMs } = options;
  const app = createServiceApp({ ...options, readiness: () => projectionReadiness(projection) });
  const body = sharedAccountsBody(registry);

  getOnly(app, '/accounts', async (c) => {
    const position = c.req.query('position');
    if (position !== undefined && !isStreamId(position)) {
      throw httpError(400, 'position must be a stream ID like 1732530000000-0, as returned by XADD', {
        position: position.slice(0, 64),
      });
    }
    assertServing(projection);
    if (position !== undefined && !(await projection.waitForPosition(position, readWaitMaxMs))) {
      throw httpError(
        503,
        `the registry has not reached position ${position} within ${readWaitMaxMs} ms (it is at ${projection.position})`,
        { position: projection.position },
        { 'retry-after': '1' },
      );
    }
    return c.body(body().text, 200, { 'content-type': 'application/json', [POSITION_HEADER]: projection.position });
  });

  return app;
}

/**
 * `GET /accounts` exactly, while the registry serves, answered from node:http before Hono sees it:
 * the bytes and headers of the route above, and counted as it would be. The route every reader
 * polls; building a fetch Request and Response for it cost a third of its throughput. Anything
 * else (a query, a body, another method, not ready) is left to the app.
 */
export function accountsFastRoute({
  registry,
  projection,
  metrics,
}: Pick<AccountSystemAppOptions, 'registry' | 'projection' | 'metrics'>): FastRoute {
  const body = sharedAccountsBody(registry);
  const answered = metrics.httpRequests.labels('GET', '/accounts', '200');
  return (request, response) => {
    if (request.method !== 'GET' || request.url !== '/accounts' || !projection.ready) return false;
    const { headers } = request;
    if (headers['content-length'] !== undefined || headers['transfer-encoding'] !== undefined) return false;
    const { bytes } = body();
    response.writeHead(200, {
      'content-type': 'application/json',
      [POSITION_HEADER]: projection.position,
      'content-length': bytes.length,
    });
    response.end(bytes);
    answered.inc();
    return true;
  };
}
