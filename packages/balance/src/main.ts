/** Wiring for balance: config, its own registry projection (the service directory), HTTP. */
import { startAccountsProjection } from '@microbank/events';
import { registerProjectionMetrics, runService, serviceBasics, snapshotsSignedWith } from '@microbank/service-runtime';
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

await runService({
  app: createBalanceApp({ log, metrics, ...accounts, accountTimeoutMs: config.accountTimeoutMs }),
  port: config.port,
  log,
  onStop: () => accounts.close(),
});
