/** Wiring for services that keep a registry: two connections, the registry, the projection runner. */
import type { Redis } from 'ioredis';
import type { AccountEvent } from './account-events.ts';
import {
  type AccountsRegistry,
  applyAccountEvent,
  createAccountsRegistry,
  REGISTRY_SNAPSHOT_FORMAT,
  registrySnapshotState,
  restoreRegistry,
} from './accounts-registry.ts';
import { decodeAccountEntry } from './entry-fast-path.ts';
import type { Log } from './log.ts';
import { type Projection, startProjection } from './projection.ts';
import { redisSnapshots } from './projection-snapshots.ts';
import { closeRedis, connectRedis } from './redis-connection.ts';
import { snapshotKey, streamKey } from './stream-keys.ts';

export interface AccountsProjection {
  registry: AccountsRegistry;
  projection: Projection;
  /** The command connection, also usable for metrics queries. */
  redis: Redis;
  close(): Promise<void>;
}

export interface AccountsProjectionOptions {
  redisUrl: string;
  log: Log;
  /** Names the projection and its connections, e.g. "account-system". */
  name: string;
  stream?: string;
  batchSize?: number;
  blockMs?: number;
  /**
   * Snapshot the registry in Redis, signed with `secret`, and start from the snapshot; or always
   * replay the whole stream (false, the default). Every service keeping a registry shares one
   * snapshot per format, so they must share the secret.
   */
  snapshots?: false | { secret: string; everyEntries?: number; maxAgeMs?: number };
}

export function startAccountsProjection(options: AccountsProjectionOptions): AccountsProjection {
  const { redisUrl, log, name } = options;
  const redis = connectRedis(redisUrl, `${name}:commands`, log);
  const registry = createAccountsRegistry();
  const stream = options.stream ?? streamKey('accounts');
  const snapshotOptions = options.snapshots ?? false;
  const snapshots =
    snapshotOptions === false
      ? undefined
      : redisSnapshots({
          redis,
          key: snapshotKey(stream, 'registry', REGISTRY_SNAPSHOT_FORMAT),
          format: REGISTRY_SNAPSHOT_FORMAT,
          log,
          name,
          capture: () => registrySnapshotState(registry),
          restore: (state) => restoreRegistry(registry, state),
          ...snapshotOptions,
        });
  const projection = startProjection<AccountEvent>({
    name,
    streams: [stream],
    redis,
    tailRedis: connectRedis(redisUrl, `${name}:tail`, log),
    log,
    decode: (_stream, fields) => decodeAccountEntry(fields),
    apply: (event, id) => applyAccountEvent(registry, event, id),
    batchSize: options.batchSize,
    blockMs: options.blockMs,
    snapshots,
  });
  return {
    registry,
    projection,
    redis,
    async close() {
      await projection.stop();
      await closeRedis(redis);
    },
  };
}
