/**
 * Opens ioredis connections with the failure behaviour the event store relies on: to a single
 * Redis, or to a Redis Cluster (its seed nodes named, the rest found) when the settings say so.
 */
import { Cluster, type ClusterOptions, Redis, type RedisOptions } from 'ioredis';
import { byHashTag } from './keys.ts';
import type { Log } from './log.ts';
import { backoffDelay } from './retry.ts';

/** A connection to a single Redis or to a Redis Cluster: every command the product sends works on both. */
export type RedisClient = Redis | Cluster;

/**
 * How many replicas must confirm a write the bank acknowledges (WAIT), and how long it waits for
 * them (confirmed-write.ts). Zero replicas: writes are not confirmed (a single Redis has none).
 */
export interface Confirmation {
  replicas: number;
  timeoutMs: number;
}

/** Where Redis is, and how the writes on it are confirmed. */
export interface RedisSettings {
  /** A single Redis's URL, or a cluster's seed nodes (`redis://[:password@]host:port`). */
  urls: readonly string[];
  /** The URLs name Redis Cluster seed nodes. */
  cluster: boolean;
  confirm: Confirmation;
}

/** Settings, or a single Redis's URL (its writes not confirmed: tests and tools). */
export type RedisAt = RedisSettings | string;

/** The settings a bare URL stands for. */
export function redisSettings(at: RedisAt): RedisSettings {
  return typeof at === 'string' ? { urls: [at], cluster: false, confirm: NOT_CONFIRMED } : at;
}

export const NOT_CONFIRMED: Confirmation = { replicas: 0, timeoutMs: 0 };

/** How long a confirmed write waits for its replicas by default (REDIS_CONFIRM_TIMEOUT_MS). */
export const CONFIRM_TIMEOUT_MS = 1_000;

/** What is confirmed unless configured otherwise: one replica on a cluster, nothing on a single Redis (which has none). */
export function defaultConfirmation(cluster: boolean): Confirmation {
  return cluster ? { replicas: 1, timeoutMs: CONFIRM_TIMEOUT_MS } : NOT_CONFIRMED;
}

/** The longest wait between two reconnect attempts: a restarted Redis is found within this. */
export const RECONNECT_CAP_MS = 500;

/**
 * How long a cluster client keeps a command through a failover before failing it: the default
 * cluster-node-timeout (5 s here) plus a replica's election (up to about 2 s), with room. The client
 * retries every FAILOVER_RETRY_MS, on a closed connection, CLUSTERDOWN, TRYAGAIN or a redirect.
 */
export const FAILOVER_RIDE_OUT_MS = 12_000;
export const FAILOVER_RETRY_MS = 200;
/**
 * How often a cluster client reads the slot map again, whatever happens. A slot that moves is
 * mostly learnt from its redirects, but a primary that freezes or is cut off answers nothing: its
 * commands time out, and only this reading finds the replica promoted in its place. Each reading
 * opens a connection of its own (an idle service's CPU: 14 ms a second at every 2 s, 5 at every
 * 20 s); at every 10 s, writes to a frozen primary's slots went on timing out for about 8 s after
 * its replica was promoted, against 1.4 to 3 s at every 2 s. So 2 s.
 */
const SLOTS_REFRESH_MS = 2_000;
/** The longest a command on a cluster waits for its answer. */
export const COMMAND_TIMEOUT_MS = 15_000;

/** The confirmation each connection's writes get (confirmedWrite reads it). */
const confirmations = new WeakMap<RedisClient, Confirmation>();

/** How the writes on `redis` are confirmed: as its settings said, or not at all for a connection made otherwise. */
export function confirmationOf(redis: RedisClient): Confirmation {
  return confirmations.get(redis) ?? NOT_CONFIRMED;
}

/**
 * Reads the cluster's map of slots again every `ms`, until the client ends. ioredis learns a
 * slot's new node from a MOVED only for a lone command, or a pipeline or transaction all of whose
 * commands were redirected (confirmedWrite's, whose WAIT is answered anywhere, reads the map again
 * itself), and from nothing at all for a primary that stopped answering. Not ioredis'
 * slotsRefreshInterval: a refresh under way when the client is closed arms its next round anyway,
 * every 2 s forever, and that timer alone kept a process that had closed everything alive. This
 * one never keeps a process alive and stops with the client.
 */
function refreshSlotsEvery(cluster: Cluster, ms: number): void {
  const timer = setInterval(() => {
    if (cluster.status === 'end') clearInterval(timer);
    else if (cluster.status === 'ready') cluster.refreshSlotsCache();
  }, ms);
  timer.unref();
  cluster.once('end', () => clearInterval(timer));
}

/**
 * A connection whose commands fail fast while Redis is away instead of queueing:
 * callers retry with their own backoff from the last stream position they hold, so a
 * command is never replayed behind their back (ioredis would otherwise resend a pending
 * XREAD after a reconnect, or hold it forever, see ioredis#1285). A cluster client does
 * resend a command whose node went away, to the slot's new primary, within
 * FAILOVER_RIDE_OUT_MS: every command the product sends may run twice (the scripts are
 * idempotent, a read names its positions).
 */
export function connectRedis(url: string, name: string, log: Log): Redis;
export function connectRedis(at: RedisAt, name: string, log: Log): RedisClient;
export function connectRedis(at: RedisAt, name: string, log: Log): RedisClient {
  const settings = redisSettings(at);
  const shared: RedisOptions = { connectionName: name, autoResendUnfulfilledCommands: false };
  let redis: RedisClient;
  if (settings.cluster) {
    const [first] = settings.urls;
    const { username, password, protocol } = new URL(first ?? 'redis://');
    const options: ClusterOptions = {
      enableOfflineQueue: false,
      retryDelayOnFailover: FAILOVER_RETRY_MS,
      retryDelayOnClusterDown: FAILOVER_RETRY_MS,
      retryDelayOnTryAgain: FAILOVER_RETRY_MS,
      maxRedirections: Math.ceil(FAILOVER_RIDE_OUT_MS / FAILOVER_RETRY_MS),
      clusterRetryStrategy: (attempt) => backoffDelay(attempt, { firstMs: 25, capMs: RECONNECT_CAP_MS }),
      // Read again on a timer of our own (refreshSlotsEvery): ioredis' own outlives its client.
      slotsRefreshInterval: 0,
      redisOptions: {
        ...shared,
        // A node that stops answering without closing its connection (frozen, cut off by the
        // network) is replaced by a failover, but what was sent to it would wait for it forever:
        // no command waits longer than this (a blocking read blocks for less, see projection-tail.ts).
        commandTimeout: COMMAND_TIMEOUT_MS,
        username: decodeURIComponent(username) || undefined,
        password: decodeURIComponent(password) || undefined,
        // rediss:// seeds: every node is reached over TLS, as the seeds are.
        ...(protocol === 'rediss:' ? { tls: {} } : {}),
      },
    };
    const cluster = new Cluster(
      settings.urls.map((url) => {
        const { hostname, port } = new URL(url);
        return { host: hostname, port: Number(port || 6379) };
      }),
      options,
    );
    refreshSlotsEvery(cluster, SLOTS_REFRESH_MS);
    redis = cluster;
  } else {
    redis = new Redis(settings.urls[0] ?? '', {
      ...shared,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      retryStrategy: (attempt) => backoffDelay(attempt, { firstMs: 25, capMs: RECONNECT_CAP_MS }),
    });
  }
  confirmations.set(redis, settings.confirm);
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

/** A cluster client: a command over several keys must name keys of one slot (byHashTag). */
export function isCluster(redis: RedisClient): redis is Cluster {
  return redis instanceof Cluster;
}

/**
 * `items` in groups that one command may read together on `redis`: all of them on a single Redis,
 * those of one hash tag on a cluster.
 */
export function readTogether<T>(redis: RedisClient, items: readonly T[], keyOf: (item: T) => string): T[][] {
  if (items.length === 0) return [];
  return isCluster(redis) ? byHashTag(items, keyOf) : [[...items]];
}

/**
 * Sends a keyless command (`CLIENT ID`, `CLUSTER NODES`) to the node that serves `key`'s slot (on a
 * cluster, a keyless command goes to that node only in a pipeline with a keyed one) and answers
 * its reply.
 */
export async function commandOnNodeOf(
  redis: RedisClient,
  key: string,
  command: string,
  ...args: Array<string | number>
): Promise<unknown> {
  const replies = await redis
    .pipeline()
    .call(command, ...args)
    .exists(key)
    .exec();
  const [error, reply] = replies?.[0] ?? [new Error(`${command} ${args[0] ?? ''} got no answer`)];
  if (error) throw error;
  return reply;
}

/** Resolves when the connection is ready to take commands (at once if it already is). */
export function untilReady(redis: RedisClient, signal?: AbortSignal): Promise<void> {
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
export async function readyOrReconnect(connection: RedisClient, ms: number, signal?: AbortSignal): Promise<void> {
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
export async function closeRedis(redis: RedisClient): Promise<void> {
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
