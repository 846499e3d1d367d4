/** Wiring for account-system: config, the registry projection, HTTP. */
import { keepAccountsRegistry, runService, serviceBasics } from '@microbank/service-runtime';
import { createAccountSystemApp } from './app.ts';
import { readAccountSystemConfig } from './config.ts';

const basics = serviceBasics('account-system', readAccountSystemConfig);
const { config, log, metrics } = basics;
const accounts = keepAccountsRegistry('account-system', basics);

await runService({
  app: createAccountSystemApp({ log, metrics, ...accounts, readWaitMaxMs: config.readWaitMaxMs }),
  port: config.port,
  shutdown: config.shutdown,
  log,
  onStop: () => accounts.close(),
});
