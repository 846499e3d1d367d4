/** Opens ioredis connections with the failure behaviour the event store relies on. */
import { type Cluster, Redis } from 'ioredis';
import type { Log } from './log.ts';
import { backoffDelay } from './retry.ts';

/** The longest wait between two reconnect attempts: a restarted Redis is found within this. */
export const RECONNECT_CAP_MS = 500;

/**
 * A connection whose commands fail fast while Redis is away instead of queueing:
 * callers retry with their own backoff from the last stream position they hold, so a
 * command is never replayed behind their back (ioredis would otherwise resend a pending
 * XREAD after a reconnect, or hold it forever, see ioredis#1285).
 */
export function connectRedis(url: string, name: string, log: Log): Redis {
  const redis = new Redis(url, {
    connectionName: name,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    retryStrategy: (attempt) => backoffDelay(attempt, { firstMs: 25, capMs: RECONNECT_CAP_MS }),
  });
  let down = false;
  redis.on('error', (error: Error) => {
    if (down) return;
    down = true;
    log.warn({ connection: name, err: error.message }, 'redis connection lost, reconnecting');
  });
  redis.on('ready', () => {
    if (!down) return;
    down = false;
    log.info({ connection: name }, 'redis connection back');
  });
  return redis;
}

/** Resolves when the connection is ready to take commands (at once if it already is). */
export function untilReady(redis: Redis | Cluster, signal?: AbortSignal): Promise<void> {
  if (redis.status === 'ready') return Promise.resolve();
  return new Promise((resolve, reject) => {
    const done = () => {
      redis.off('ready', done);
      signal?.removeEventListener('abort', aborted);
      resolve();
    };
    const aborted = () => {
      redis.off('ready', done);
      reject(signal?.reason ?? new Error('aborted'));
    };
    if (signal?.aborted) return aborted();
    redis.on('ready', done);
    signal?.addEventListener('abort', aborted, { once: true });
  });
}

/**
 * Waits for the connection to be ready; when it is not within `ms` (a socket that died during
 * ioredis' connect handshake hangs there forever), drops it so that ioredis connects afresh.
 */
export async function readyOrReconnect(connection: Redis | Cluster, ms: number, signal?: AbortSignal): Promise<void> {
  for (;;) {
    const deadline = AbortSignal.timeout(ms);
    try {
      return await untilReady(connection, signal ? AbortSignal.any([signal, deadline]) : deadline);
    } catch (error) {
      if (signal?.aborted) throw error;
      connection.disconnect(true);
    }
  }
}

/** Closes politely (QUIT) when connected, at once otherwise. */
export async function closeRedis(redis: Redis | Cluster): Promise<void> {
  if (redis.status !== 'ready') {
    redis.disconnect();
    return;
  }
  try {
    await redis.quit();
  } catch {
    redis.disconnect();
  }
}
