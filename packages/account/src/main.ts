/** Wiring for one account's service: config, Redis, HTTP, then registration. */
import { hostname } from 'node:os';
import { closeRedis, connectRedis, type StreamId, streamKey } from '@microbank/events';
import { runService, serviceBasics } from '@microbank/service-runtime';
import { createAccountApp } from './app.ts';
import { readAccountConfig } from './config.ts';
import { registerAccount } from './registration.ts';

const { config, log, metrics } = serviceBasics('account', readAccountConfig, (account) => account.account);
const redis = connectRedis(config.redisUrl, `${config.account}:commands`, log);
const stopping = new AbortController();
let registeredAt: StreamId | undefined;

const app = createAccountApp({
  log,
  metrics,
  openingBalance: config.openingBalance,
  readiness: () =>
    registeredAt
      ? { ready: true }
      : { ready: false, reason: 'not registered yet: waiting for Redis to take the registration' },
});

const server = await runService({
  app,
  port: config.port,
  log,
  onStop: async () => {
    stopping.abort();
    await closeRedis(redis);
  },
});

const registration = {
  account: config.account,
  url: config.accountUrl ?? `http://127.0.0.1:${server.port}`,
  instance: `${hostname()}/${process.pid}`,
};
try {
  registeredAt = await registerAccount({
    redis,
    stream: streamKey('accounts'),
    registration,
    log,
    retryCapMs: config.registrationRetryCapMs,
    signal: stopping.signal,
  });
  log.info({ ...registration, position: registeredAt }, 'registered');
} catch (error) {
  if (!stopping.signal.aborted) throw error;
}
