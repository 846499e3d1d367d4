/**
 * Which instances of an account are alive right now. Presence is not history: it lives in a
 * sorted set that the live processes refresh (scored by expiry, by Redis's clock), not on a
 * stream. An account's registration says where it answers; presence says whether it still does,
 * and sees two live instances claiming one name.
 */
import type { Cluster, Redis } from 'ioredis';
import { defineScript } from './lua-scripts.ts';
import { presenceKey } from './stream-keys.ts';

export interface LiveInstance {
  instance: string;
  url: string;
  /** When its presence runs out unless refreshed, ms since the epoch (Redis's clock). */
  expiresAt: number;
}

type Scripted = (Redis | Cluster) & {
  refreshPresence(key: string, member: string, ttlMs: number): Promise<string[]>;
  livePresence(key: string): Promise<string[]>;
};

function scripted(redis: Redis | Cluster): Scripted {
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

/** Says `instance` of `account` is alive for `ttlMs` more; resolves to every live instance. */
export async function refreshPresence(
  redis: Redis | Cluster,
  account: string,
  instance: string,
  url: string,
  ttlMs: number,
): Promise<LiveInstance[]> {
  return instancesOf(await scripted(redis).refreshPresence(presenceKey(account), memberOf(instance, url), ttlMs));
}

/** The live instances of `account`, the one alive longest last. */
export async function livePresence(redis: Redis | Cluster, account: string): Promise<LiveInstance[]> {
  return instancesOf(await scripted(redis).livePresence(presenceKey(account)));
}

/** A graceful stop: the instance is gone now, not when its presence runs out. */
export async function leavePresence(
  redis: Redis | Cluster,
  account: string,
  instance: string,
  url: string,
): Promise<void> {
  await redis.zrem(presenceKey(account), memberOf(instance, url));
}
