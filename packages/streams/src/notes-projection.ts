/**
 * For tests only (no product code imports it): a projection that applies each entry's first
 * field's value, in order, to a list the test reads. What a test of the reading path needs, and
 * nothing of a real projection's state.
 */
import { silentLog } from './log.ts';
import { type Projection, startProjection } from './projection.ts';
import type { RedisClient } from './redis-connection.ts';

export function startNotesProjection(
  redis: RedisClient,
  tailRedis: RedisClient,
  streams: readonly string[],
): { projection: Projection; applied: string[] } {
  const applied: string[] = [];
  const projection = startProjection<string>({
    name: 'test',
    streams,
    redis,
    tailRedis,
    log: silentLog,
    blockMs: 200,
    decode: (_, fields) => ({ ok: true, event: fields[1]?.toString() ?? '' }),
    apply: (event) => applied.push(event),
  });
  return { projection, applied };
}
