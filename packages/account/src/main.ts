/** Wiring for one account's service: config, Redis, HTTP, then its registration and presence. */
import { hostname } from 'node:os';
import { presenceKey, streamKey } from '@microbank/events';
import { startLedgerProjection } from '@microbank/ledger';
import {
  projectionReadiness,
  registerProjectionMetrics,
  runService,
  serviceBasics,
  snapshotsSignedWith,
} from '@microbank/service-runtime';
import { closeRedis, connectRedis, type KeptPresence, keepPresence } from '@microbank/streams';
import { registerAccountMetrics } from './account-metrics.ts';
import { createAccountApp } from './app.ts';
import { readAccountConfig } from './config.ts';
import { type KeptRegistration, keepRegistered } from './registration.ts';

const { config, log, metrics } = serviceBasics('account', readAccountConfig, (account) => account.account);
const redis = connectRedis(config.redis, `${config.account}:commands`, log);
const ledger = startLedgerProjection({
  redisAt: config.redis,
  account: config.account,
  log,
  snapshots: snapshotsSignedWith(config.snapshotKey, log),
});
registerProjectionMetrics(metrics, ledger.projection);
const stopping = new AbortController();
let registration: KeptRegistration | undefined;
let presence: KeptPresence | undefined;
registerAccountMetrics(
  metrics,
  () => registration,
  () => presence,
);

const app = createAccountApp({
  log,
  metrics,
  ...ledger,
  readWaitMaxMs: config.readWaitMaxMs,
  readiness: () => {
    if (registration?.state.position === undefined) {
      return {
        ready: false,
        reason: registration?.state.problem ?? 'not registered yet: waiting for Redis to take the registration',
      };
    }
    return projectionReadiness(ledger.projection);
  },
});

const server = await runService({
  app,
  port: config.port,
  shutdown: config.shutdown,
  log,
  onStop: async () => {
    stopping.abort();
    await registration?.done;
    await presence?.leave();
    await ledger.close();
    await closeRedis(redis);
  },
});

const me = {
  account: config.account,
  url: config.accountUrl ?? `http://127.0.0.1:${server.port}`,
  instance: `${hostname()}/${process.pid}`,
};
registration = keepRegistered({
  redis,
  stream: streamKey('accounts'),
  registration: me,
  log,
  retryCapMs: config.registrationRetryCapMs,
  checkEveryMs: config.registrationCheckMs,
  failedRetryMs: 5_000,
  signal: stopping.signal,
});
// Another live instance under this name is noticed (logged once each, and counted): balance asks
// the one registered last while it lives. A graceful stop leaves at once.
presence = keepPresence({
  redis,
  key: presenceKey(me.account),
  instance: me.instance,
  url: me.url,
  ttlMs: config.presenceTtlMs,
  signal: stopping.signal,
  log,
  onOther: (other) =>
    log.warn(
      { account: me.account, other: other.instance, otherUrl: other.url },
      'another live instance claims this account; balance asks the one registered last while it lives',
    ),
});
