/** Wiring for services that keep a registry: two connections, the registry, the projection runner. */
import type { Redis } from 'ioredis';
import { type AccountsRegistry, applyAccountEvent, createAccountsRegistry } from './accounts-registry.ts';
import type { Log } from './log.ts';
import { type Projection, startProjection } from './projection.ts';
import { closeRedis, connectRedis } from './redis-connection.ts';
import { streamKey } from './stream-keys.ts';

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
}

export function startAccountsProjection(options: AccountsProjectionOptions): AccountsProjection {
  const { redisUrl, log, name } = options;
  const redis = connectRedis(redisUrl, `${name}:commands`, log);
  const registry = createAccountsRegistry();
  const projection = startProjection({
    name,
    stream: options.stream ?? streamKey('accounts'),
    redis,
    tailRedis: connectRedis(redisUrl, `${name}:tail`, log),
    log,
    apply: (event, id) => applyAccountEvent(registry, event, id),
    batchSize: options.batchSize,
    blockMs: options.blockMs,
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
