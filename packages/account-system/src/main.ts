/** Wiring for account-system: config, the registry projection, HTTP. */
import { startAccountsProjection } from '@microbank/events';
import {
  createLogger,
  createMetrics,
  loadConfig,
  registerProjectionMetrics,
  runService,
} from '@microbank/service-runtime';
import { accountsFastRoute, createAccountSystemApp } from './app.ts';
import { readAccountSystemConfig } from './config.ts';

const service = 'account-system';
const config = loadConfig(service, () => readAccountSystemConfig(process.env));
const log = createLogger(service, config.logLevel);
const metrics = createMetrics(service);
const accounts = startAccountsProjection({ redisUrl: config.redisUrl, log, name: service });
registerProjectionMetrics(metrics, accounts.projection);

await runService({
  app: createAccountSystemApp({ log, metrics, ...accounts, readWaitMaxMs: config.readWaitMaxMs }),
  port: config.port,
  log,
  onStop: () => accounts.close(),
  fastRoute: accountsFastRoute({ metrics, ...accounts }),
});
