/**
 * account-system's HTTP API. `GET /accounts` answers from the registry projection; with
 * `?position=<stream ID>` (the ID an append returned) it first waits, bounded, until the
 * projection has applied that entry: read-your-writes.
 */
import { type AccountsRegistry, accountNames, isStreamId, type Projection } from '@microbank/events';
import type { ServiceContext } from '@microbank/service-runtime';
import { assertServing, getOnly, httpError, projectionServiceApp } from '@microbank/service-runtime';
import type { Hono } from 'hono';

export const POSITION_HEADER = 'x-microbank-position';

export interface AccountSystemAppOptions extends ServiceContext {
  registry: AccountsRegistry;
  projection: Projection;
  /** The longest a read with `?position=` waits for the projection to get there. */
  readWaitMaxMs: number;
}

/** The body of GET /accounts. It changes only when the registry does: built once per change. */
function accountsBody(registry: AccountsRegistry): () => string {
  let cached = { version: -1, text: '' };
  return () => {
    if (cached.version !== registry.version) {
      cached = { version: registry.version, text: JSON.stringify({ accounts: accountNames(registry) }) };
    }
    return cached.text;
  };
}

export function createAccountSystemApp(options: AccountSystemAppOptions): Hono {
  const { registry, projection, readWaitMaxMs } = options;
  const app = projectionServiceApp(options);
  const body = accountsBody(registry);

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
    return c.body(body(), 200, { 'content-type': 'application/json', [POSITION_HEADER]: projection.position });
  });

  return app;
}
