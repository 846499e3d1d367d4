/**
 * Which instances of an account (or which transfer processors) are alive right now. Presence is not history: it lives in a
 * sorted set that the live processes refresh (scored by expiry, by Redis's clock), not on a
 * stream. An account's registration says where it answers; presence says whether it still does,
 * and sees two live instances claiming one name.
 */

import { defineScript } from './lua-scripts.ts';
import type { RedisClient } from './redis-connection.ts';

export interface LiveInstance {
  instance: string;
  url: string;
  /** When its presence runs out unless refreshed, ms since the epoch (Redis's clock). */
  expiresAt: number;
}

type Scripted = RedisClient & {
  refreshPresence(key: string, member: string, ttlMs: number): Promise<string[]>;
  livePresence(key: string): Promise<string[]>;
};

function scripted(redis: RedisClient): Scripted {
  defineScript(redis, 'refreshPresence', 'refresh-presence-1.lua', import.meta.url);
  defineScript(redis, 'livePresence', 'live-presence-1.lua', import.meta.url);
  return redis as Scripted;
}

const memberOf = (instance: string, url: string) => JSON.stringify([instance, url]);

/** Reads `[member, score, ...]`; members that are not ours (written by hand) are left out. */
function instancesOf(reply: string[]): LiveInstance[] {
  const live: LiveInstance[] = [];
  for (let i = 0; i + 1 < reply.length; i += 2) {
    try {
      const [instance, url] = JSON.parse(reply[i] as string) as unknown[];
      if (typeof instance === 'string' && typeof url === 'string') {
        live.push({ instance, url, expiresAt: Number(reply[i + 1]) });
      }
    } catch {
      // not a member this code wrote
    }
  }
  return live;
}

/**
 * Says `instance` is alive at `key` (an account's presenceKey, the processors'
 * processorsPresenceKey) for `ttlMs` more; resolves to every live instance there.
 */
export async function refreshPresence(
  redis: RedisClient,
  key: string,
  instance: string,
  url: string,
  ttlMs: number,
): Promise<LiveInstance[]> {
  return instancesOf(await scripted(redis).refreshPresence(key, memberOf(instance, url), ttlMs));
}

/** The live instances at `key`, the one alive longest last. */
export async function livePresence(redis: RedisClient, key: string): Promise<LiveInstance[]> {
  return instancesOf(await scripted(redis).livePresence(key));
}

/** A graceful stop: the instance is gone now, not when its presence runs out. */
export async function leavePresence(redis: RedisClient, key: string, instance: string, url: string): Promise<void> {
  await redis.zrem(key, memberOf(instance, url));
}
