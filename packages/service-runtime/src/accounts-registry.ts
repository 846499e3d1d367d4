/** A service's own copy of the accounts registry, as account-system and transfer keep one. */
import { type AccountsProjection, startAccountsProjection } from '@microbank/events';
import type { RedisSettings } from '@microbank/streams';
import { registerProjectionMetrics } from './metrics.ts';
import { type ServiceBasics, snapshotsSignedWith } from './service-basics.ts';

/**
 * Starts the accounts projection named after `service` on its REDIS_URL, snapshotted with its
 * SNAPSHOT_KEY (or not, and said so, without one), its lag and state in the service's metrics.
 */
export function keepAccountsRegistry(
  service: string,
  { config, log, metrics }: ServiceBasics<{ redis: RedisSettings; snapshotKey: string | undefined }>,
): AccountsProjection {
  const accounts = startAccountsProjection({
    redisAt: config.redis,
    log,
    name: service,
    snapshots: snapshotsSignedWith(config.snapshotKey, log),
  });
  registerProjectionMetrics(metrics, accounts.projection);
  return accounts;
}
