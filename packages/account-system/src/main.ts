/** Wiring for account-system: config, the registry projection, HTTP. */
import { startAccountsProjection } from '@microbank/events';
import { registerProjectionMetrics, runService, serviceBasics, snapshotsSignedWith } from '@microbank/service-runtime';
import { createAccountSystemApp } from './app.ts';
import { readAccountSystemConfig } from './config.ts';

const { config, log, metrics } = serviceBasics('account-system', readAccountSystemConfig);
const accounts = startAccountsProjection({
  redisUrl: config.redisUrl,
  log,
  name: 'account-system',
  snapshots: snapshotsSignedWith(config.snapshotKey, log),
});
registerProjectionMetrics(metrics, accounts.projection);

await runService({
  app: createAccountSystemApp({ log, metrics, ...accounts, readWaitMaxMs: config.readWaitMaxMs }),
  port: config.port,
  shutdown: config.shutdown,
  log,
  onStop: () => accounts.close(),
});
