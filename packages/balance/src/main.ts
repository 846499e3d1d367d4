/** Wiring for balance: config, its own registry projection (the service directory), HTTP. */
import { startAccountsProjection } from '@microbank/events';
import { registerProjectionMetrics, runService, serviceBasics, snapshotsSignedWith } from '@microbank/service-runtime';
import { accountClient } from './account-client.ts';
import { accountDirectory } from './account-directory.ts';
import { createBalanceApp } from './app.ts';
import { readBalanceConfig } from './config.ts';

const { config, log, metrics } = serviceBasics('balance', readBalanceConfig);
const accounts = startAccountsProjection({
  redisUrl: config.redisUrl,
  log,
  name: 'balance',
  snapshots: snapshotsSignedWith(config.snapshotKey, log),
});
registerProjectionMetrics(metrics, accounts.projection);

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
    ...accounts,
    patterns: config.accountUrlPatterns,
    directory: accountDirectory(accounts.redis),
    client,
  }),
  port: config.port,
  shutdown: config.shutdown,
  log,
  onStop: async () => {
    client.close();
    await accounts.close();
  },
});
