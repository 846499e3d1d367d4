/**
 * account-system's HTTP API. `GET /accounts` answers from the registry projection; with
 * `?position=<stream ID>` (the ID an append returned) it first waits, bounded, until the
 * projection has applied that entry: read-your-writes.
 */
import { type AccountsRegistry, accountNames, isStreamId, type Projection } from '@microbank/events';
import {
  assertServing,
  createServiceApp,
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

export function createAccountSystemApp(options: AccountSystemAppOptions): Hono {
  const { registry, projection, readWaitMaxMs } = options;
  const app = createServiceApp({ ...options, readiness: () => projectionReadiness(projection) });

  // The body changes only when the registry does; build it once per change.
  let cached = { version: -1, body: '' };
  const accountsBody = () => {
    if (cached.version !== registry.version) {
      cached = { version: registry.version, body: JSON.stringify({ accounts: accountNames(registry) }) };
    }
    return cached.body;
  };

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
    return c.body(accountsBody(), 200, { 'content-type': 'application/json', [POSITION_HEADER]: projection.position });
  });

  return app;
}
