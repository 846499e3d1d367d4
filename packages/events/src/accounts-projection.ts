/** Wiring for services that keep a registry: two connections, the registry, the projection runner. */

import {
  type Log,
  type Projection,
  type RedisAt,
  type RedisClient,
  type SnapshotSetting,
  startStateProjection,
} from '@microbank/streams';
import type { AccountEvent } from './account-events.ts';
import {
  type AccountsRegistry,
  applyAccountEvent,
  clearRegistry,
  createAccountsRegistry,
  REGISTRY_SNAPSHOT_FORMAT,
  registrySnapshotState,
  restoreRegistry,
} from './accounts-registry.ts';
import { decodeAccountEntry } from './entry-fast-path.ts';
import { streamKey } from './stream-keys.ts';

export interface AccountsProjection {
  registry: AccountsRegistry;
  projection: Projection;
  /** The command connection, also usable for metrics queries. */
  redis: RedisClient;
  close(): Promise<void>;
}

export interface AccountsProjectionOptions {
  redisAt: RedisAt;
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
  snapshots?: SnapshotSetting;
}

/** How the registry is kept in a snapshot: one per format, whichever service wrote it. */
const registrySnapshot = (registry: AccountsRegistry) => ({
  kind: 'registry',
  format: REGISTRY_SNAPSHOT_FORMAT,
  capture: () => registrySnapshotState(registry),
  restore: (stored: string) => restoreRegistry(registry, stored),
});

export function startAccountsProjection(options: AccountsProjectionOptions): AccountsProjection {
  const registry = createAccountsRegistry();
  const state = startStateProjection<AccountEvent>({
    ...options,
    streams: [options.stream ?? streamKey('accounts')],
    decode: decodeAccountEntry,
    apply: (event, id) => applyAccountEvent(registry, event, id),
    // The registry is what the stream holds: after Redis lost data, what it holds now.
    reset: () => clearRegistry(registry),
    snapshots: options.snapshots ?? false,
    snapshot: registrySnapshot(registry),
  });
  return { registry, ...state };
}
