/** Wiring for balance: config, its own registry projection, HTTP. */
import { startAccountsProjection } from '@microbank/events';
import {
  createLogger,
  createMetrics,
  loadConfig,
  registerProjectionMetrics,
  runService,
} from '@microbank/service-runtime';
import { createBalanceApp } from './app.ts';
import { readBalanceConfig } from './config.ts';

const service = 'balance';
const config = loadConfig(service, () => readBalanceConfig(process.env));
const log = createLogger(service, config.logLevel);
const metrics = createMetrics(service);
const accounts = startAccountsProjection({ redisUrl: config.redisUrl, log, name: service });
registerProjectionMetrics(metrics, accounts.projection);

await runService({
  app: createBalanceApp({ log, metrics, ...accounts, accountTimeoutMs: config.accountTimeoutMs }),
  port: config.port,
  log,
  onStop: () => accounts.close(),
});
