/**
 * account-system's HTTP API. `GET /accounts` answers from the registry projection; with
 * `?position=<stream ID>` (the ID an append returned) it first waits, bounded, until the
 * projection has applied that entry: read-your-writes.
 */
import { type AccountsRegistry, accountNames } from '@microbank/events';
import type { ServiceContext } from '@microbank/service-runtime';
import { getOnly, POSITION_HEADER, projectionServiceApp, readAtPosition } from '@microbank/service-runtime';
import type { Projection } from '@microbank/streams';
import type { Hono } from 'hono';

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
    const position = await readAtPosition(c, projection, readWaitMaxMs);
    return c.body(body(), 200, { 'content-type': 'application/json', [POSITION_HEADER]: position });
  });

  return app;
}
