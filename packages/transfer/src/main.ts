/** Wiring for the transfer service: its registry, its processor (one consumer of the saga's group), HTTP. */
import { hostname } from 'node:os';
import { issueConfiguredSupply } from '@microbank/ledger';
import { keepAccountsRegistry, runService, serviceBasics } from '@microbank/service-runtime';
import { connectRedis } from '@microbank/streams';
import { startAdmission } from './admission.ts';
import { createTransferApp } from './app.ts';
import { readTransferConfig } from './config.ts';
import { credentialsOf } from './credentials.ts';
import { startProcessor } from './processor.ts';
import { registerAdmissionMetrics, registerTransferMetrics } from './transfer-metrics.ts';

const basics = serviceBasics('transfer', readTransferConfig);
const { config, log, metrics } = basics;
const accounts = keepAccountsRegistry('transfer', basics);
const processor = startProcessor({
  redis: accounts.redis,
  blockRedis: connectRedis(config.redis, 'transfer:processor', log),
  log,
  consumer: `${hostname()}/${process.pid}`,
  claimIdleMs: config.claimIdleMs,
  retentionMs: config.retentionMs,
});
const admission = startAdmission(accounts.redis, config.admissionHighWater, { log });
registerTransferMetrics(metrics, processor);
registerAdmissionMetrics(metrics, admission);
// The bank's configured issuance, made once whatever the number of starts or replicas; it waits
// for Redis as long as it must, beside the service.
const stopping = new AbortController();
const issuing = issueConfiguredSupply(accounts.redis, config.issuance, log, undefined, stopping.signal).catch(
  () => undefined,
);

await runService({
  app: createTransferApp({
    log,
    metrics,
    ...accounts,
    credentials: credentialsOf(config.clients),
    admission,
    retentionMs: config.retentionMs,
    processor,
  }),
  port: config.port,
  shutdown: config.shutdown,
  log,
  onStop: async () => {
    stopping.abort();
    admission.stop();
    await issuing;
    await processor.stop();
    await accounts.close();
  },
});
