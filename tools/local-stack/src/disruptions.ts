/**
 * Kills told to the bank: each goes onto `microbank:disruptions` (kept to its last 1,000), where
 * the dashboard marks it on its timeline. Best effort: Redis may be the component just killed.
 */
import { disruptionEvents, streamKey } from '@microbank/events';
import { encodeEvent } from '@microbank/streams';
import type { Cluster, Redis } from 'ioredis';

const KEEP = 1_000;

export async function recordKill(redis: Redis | Cluster, component: string, by: string, handle: string): Promise<void> {
  const fields = encodeEvent(disruptionEvents, {
    type: 'ComponentKilled',
    data: { component, by, handle, at: new Date().toISOString() },
  });
  await redis.xadd(streamKey('disruptions'), 'MAXLEN', '~', KEEP, '*', ...fields).catch(() => undefined);
}
