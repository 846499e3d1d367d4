/** The account's HTTP API: its balance, plus the endpoints every service has. */
import {
  createServiceApp,
  getOnly,
  type Logger,
  type Readiness,
  type ServiceMetrics,
} from '@microbank/service-runtime';
import type { Hono } from 'hono';

export interface AccountAppOptions {
  log: Logger;
  metrics: ServiceMetrics;
  openingBalance: number;
  readiness: () => Readiness;
}

export function createAccountApp({ log, metrics, openingBalance, readiness }: AccountAppOptions): Hono {
  const app = createServiceApp({ log, metrics, readiness });
  getOnly(app, '/balance', (c) => c.json({ balance: openingBalance }));
  return app;
}
