/** Every entry of a stream as strings, the way redis-cli shows them: for tests to look at what is stored. */
import { type Cluster, Redis } from 'ioredis';

export type StringEntry = [id: string, fields: string[]];

/** Reads with `redis` (a client or a URL, connected for this read only). */
export async function readStream(redis: Redis | Cluster | string, stream: string): Promise<StringEntry[]> {
  const client = typeof redis === 'string' ? new Redis(redis) : redis;
  try {
    return (await client.xrange(stream, '-', '+')) as StringEntry[];
  } finally {
    if (typeof redis === 'string') client.disconnect();
  }
}
