/**
 * The Redis an operator's command (`pnpm parked`, `pnpm compact`) works on: REDIS_URL, else the
 * local stack's (the one that runs or last ran on its data dir), else its default port; connected
 * once, without retries, or the process ends with a message that says why and never the password.
 */
import { Redis } from 'ioredis';
import { DEFAULT_REDIS_PORT, readPlan, stackSettings } from './stack-plan.ts';

export function stackRedisUrl(env: Record<string, string | undefined> = process.env): string {
  if (env.REDIS_URL) return env.REDIS_URL;
  return readPlan(stackSettings(env).dataDir)?.redisUrl ?? `redis://127.0.0.1:${DEFAULT_REDIS_PORT}`;
}

/** Connects to stackRedisUrl() for the command `tool`, or prints why not and exits 1. */
export async function connectOperatorRedis(tool: string): Promise<Redis> {
  const url = stackRedisUrl();
  const where = url.replace(/\/\/[^@/]*@/, '//');
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: 2_000,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  // The connection's own error says why (refused, unknown host); the rejected connect only that it closed.
  let refused: Error | undefined;
  redis.on('error', (error: Error) => {
    refused = error;
  });
  try {
    await redis.connect();
  } catch (error) {
    const why = (refused ?? (error as Error)).message;
    console.error(`${tool}: cannot reach Redis at ${where} (${why}); is the stack up (pnpm start), or REDIS_URL set?`);
    process.exit(1);
  }
  return redis;
}

/** Runs an operator's command on the stack's Redis: connects (or exits 1), runs, disconnects, exits with its code. */
export async function runOperatorCommand(tool: string, run: (redis: Redis) => Promise<number>): Promise<never> {
  const redis = await connectOperatorRedis(tool);
  let code = 1;
  try {
    code = await run(redis);
  } finally {
    redis.disconnect();
  }
  process.exit(code);
}
