/** Wiring for balance: its books (the registry, whose registrations carry each account's URL, and every ledger), HTTP. */
import { startBooks } from '@microbank/ledger';
import { registerProjectionMetrics, runService, serviceBasics } from '@microbank/service-runtime';
import { accountClient } from './account-client.ts';
import { accountUrls } from './account-url.ts';
import { createBalanceApp } from './app.ts';
import { registerAuditMetrics } from './audit-metrics.ts';
import { readBalanceConfig } from './config.ts';

const { config, log, metrics } = serviceBasics('balance', readBalanceConfig);
const books = startBooks({ redisAt: config.redis, log, name: 'balance', stuckAfterMs: config.auditStuckAfterMs });
registerProjectionMetrics(metrics, books.projection);
registerAuditMetrics(metrics, books.audit);
const client = accountClient({
  timeoutMs: config.accountTimeoutMs,
  concurrency: config.accountConcurrency,
  queue: config.accountQueue,
  maxTotal: config.maxPending,
});

await runService({
  app: createBalanceApp({
    log,
    metrics,
    ...books,
    patterns: config.accountUrlPatterns,
    urls: accountUrls(books.redis),
    client,
  }),
  port: config.port,
  shutdown: config.shutdown,
  log,
  onStop: async () => {
    client.close();
    await books.close();
  },
});
