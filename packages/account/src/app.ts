/**
 * The account's HTTP API: `GET /balance` from its ledger projection (the fold of its ledger
 * stream); with `?position=<ledger entry ID>` (from a transfer's status) it first waits, bounded,
 * until the projection has applied that entry. Plus the endpoints every service has.
 */

import type { Ledger } from '@microbank/ledger';
import {
  createServiceApp,
  getOnly,
  POSITION_HEADER,
  type Readiness,
  readAtPosition,
  type ServiceContext,
} from '@microbank/service-runtime';
import type { Projection } from '@microbank/streams';
import type { Hono } from 'hono';

export interface AccountAppOptions extends ServiceContext {
  ledger: Ledger;
  /** The ledger's projection. */
  projection: Projection;
  readiness: () => Readiness;
  /** The longest a read with `?position=` waits. */
  readWaitMaxMs: number;
}

export function createAccountApp({
  log,
  metrics,
  ledger,
  projection,
  readiness,
  readWaitMaxMs,
}: AccountAppOptions): Hono {
  const app = createServiceApp({ log, metrics, readiness });
  getOnly(app, '/balance', async (c) => {
    const position = await readAtPosition(c, projection, readWaitMaxMs);
    return c.json({ balance: ledger.balance }, 200, { [POSITION_HEADER]: position });
  });
  return app;
}
