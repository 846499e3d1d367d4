/**
 * The Redis an operator's command (`pnpm parked`, `pnpm compact`, `pnpm rebuild-state`) works on:
 * REDIS_URL (a Redis Cluster's seeds with REDIS_CLUSTER=true), else the local stack's (the one that
 * runs or last ran on its data dir, a cluster's when it ran with --cluster), else its default port;
 * connected once, through the bank's own connection layer, or the process ends with a message that
 * says why and never the password.
 */
import {
  closeRedis,
  connectRedis,
  defaultConfirmation,
  type RedisClient,
  type RedisSettings,
  silentLog,
} from '@microbank/streams';
import { DEFAULT_REDIS_PORT, readPlan, stackSettings } from './stack-plan.ts';

/**
 * The Redis an operator's command works on. On a cluster its writes are confirmed by a replica, as
 * the services' are: `pnpm parked --retry` runs a saga, which moves money only on a confirmed
 * request, and each of its steps is confirmed before the next.
 */
export function operatorRedis(env: Record<string, string | undefined> = process.env): RedisSettings {
  const settings = (urls: string, cluster: boolean): RedisSettings => ({
    urls: urls.split(','),
    cluster,
    confirm: defaultConfirmation(cluster),
  });
  if (env.REDIS_URL) return settings(env.REDIS_URL, env.REDIS_CLUSTER === 'true');
  const plan = readPlan(stackSettings(env).dataDir);
  if (plan) return settings(plan.redisUrl, plan.redisCluster !== undefined);
  return settings(`redis://127.0.0.1:${DEFAULT_REDIS_PORT}`, false);
}

/** Where the stack's Redis is, as one URL list (for the tools that open their own projections). */
export function stackRedisUrl(env: Record<string, string | undefined> = process.env): string {
  return operatorRedis(env).urls.join(',');
}

/** Connects to operatorRedis() for the command `tool`, or prints why not and exits 1. */
export async function connectOperatorRedis(tool: string): Promise<RedisClient> {
  const at = operatorRedis();
  const where = at.urls.map((url) => url.replace(/\/\/[^@/]*@/, '//')).join(',');
  const redis = connectRedis(at, `${tool}:operator`, silentLog);
  // The connection's own error says why (refused, unknown host).
  let refused: Error | undefined;
  redis.on('error', (error: Error) => {
    refused = error;
  });
  const ready = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), 3_000);
    redis.once('ready', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
  if (!ready) {
    redis.disconnect();
    const why = refused?.message ?? 'no answer within 3 s';
    console.error(`${tool}: cannot reach Redis at ${where} (${why}); is the stack up (pnpm start), or REDIS_URL set?`);
    process.exit(1);
  }
  return redis;
}

/** Runs an operator's command on the stack's Redis: connects (or exits 1), runs, disconnects, exits with its code. */
export async function runOperatorCommand(tool: string, run: (redis: RedisClient) => Promise<number>): Promise<never> {
  const redis = await connectOperatorRedis(tool);
  let code = 1;
  try {
    code = await run(redis);
  } finally {
    await closeRedis(redis);
  }
  process.exit(code);
}
