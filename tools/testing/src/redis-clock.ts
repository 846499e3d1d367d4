/**
 * Waits until Redis's clock is past the millisecond of `stream`'s last entry, so that the next
 * entry starts a millisecond of its own. Entry IDs of two streams compare by their time only (the
 * part after the dash counts within one stream): a test that needs an entry strictly later than
 * everything before it, in every stream, waits for this instead of sleeping. `laterByMs`: until
 * its clock is that many ms past the entry (1, the next millisecond, by default).
 */

import { waitFor } from '@microbank/processes';
import type { Redis } from 'ioredis';

export async function nextMillisecond(redis: Redis, stream: string, laterByMs = 1): Promise<void> {
  const [last] = (await redis.xrevrange(stream, '+', '-', 'COUNT', 1)) as Array<[string, string[]]>;
  const lastMs = last ? Number(last[0].split('-')[0]) : 0;
  await waitFor(
    `Redis's clock to reach ${lastMs + laterByMs}`,
    async () => {
      const [seconds, micros] = await redis.time();
      return Number(seconds) * 1_000 + Math.floor(Number(micros) / 1_000);
    },
    (now) => now >= lastMs + laterByMs,
    { intervalMs: 1 },
  );
}
