/** What Redis says of its memory (INFO memory): used_memory and maxmemory (0: no limit), in bytes. */

export interface RedisMemory {
  used: number;
  max: number;
}

/** Reads INFO memory; throws when it does not say how much is used. */
export async function redisMemory(redis: RedisClient): Promise<RedisMemory> {
  const info = await redis.info('memory');
  const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1]);
  const used = field('used_memory');
  if (!Number.isSafeInteger(used) || used <= 0) throw new Error('INFO memory gave no used_memory');
  return { used, max: field('maxmemory') || 0 };
}

import type { RedisClient } from './redis-connection.ts';
