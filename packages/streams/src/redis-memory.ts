/** What Redis says of its memory (INFO memory): used_memory and maxmemory (0: no limit), in bytes. */
import { isCluster, type RedisClient } from './redis-connection.ts';

export interface RedisMemory {
  used: number;
  max: number;
}

/**
 * Reads INFO memory; throws when it does not say how much is used. On a cluster, every primary's,
 * and answers the fullest one's (the largest share of its maxmemory used): a transfer writes to
 * three slots, anywhere, and the first of them that is full refuses it.
 */
export async function redisMemory(redis: RedisClient): Promise<RedisMemory> {
  if (!isCluster(redis)) return parseMemory(await redis.info('memory'));
  const primaries = redis.nodes('master');
  if (primaries.length === 0) throw new Error('the cluster client knows no primary yet');
  const readings = await Promise.all(primaries.map(async (node) => parseMemory(await node.info('memory'))));
  const share = ({ used, max }: RedisMemory) => (max > 0 ? used / max : 0);
  return readings.reduce((fullest, reading) => (share(reading) > share(fullest) ? reading : fullest));
}

function parseMemory(info: string): RedisMemory {
  const field = (name: string) => Number(new RegExp(`^${name}:(\\d+)`, 'm').exec(info)?.[1]);
  const used = field('used_memory');
  if (!Number.isSafeInteger(used) || used <= 0) throw new Error('INFO memory gave no used_memory');
  return { used, max: field('maxmemory') || 0 };
}
