/**
 * Which URL balance asks an account at: the registration carries the URL where the account
 * answers, and presence says which instances are alive. The URL of its latest registration while
 * an instance with that URL is alive; when that instance has gone (two instances claimed the name
 * and the newer one stopped), the URL of the live instance whose presence expires last; when
 * presence says nothing (Redis away, an instance that has not refreshed yet), the registration's
 * URL all the same.
 */

import { presenceKey } from '@microbank/events';
import { type LiveInstance, livePresence, type RedisClient } from '@microbank/streams';

/** How long one look at an account's presence is reused: a burst of reads asks Redis once. */
const PRESENCE_CACHE_MS = 500;

export function chooseAccountUrl(registeredUrl: string, live: readonly LiveInstance[]): string {
  if (live.length === 0 || live.some((instance) => instance.url === registeredUrl)) return registeredUrl;
  return (live.at(-1) as LiveInstance).url;
}

/** The URL to ask each account at, from its registration and its presence. */
export interface AccountUrls {
  urlOf(account: string, registeredUrl: string): Promise<string>;
}

export function accountUrls(redis: RedisClient): AccountUrls {
  const cache = new Map<string, { at: number; live: Promise<LiveInstance[]> }>();
  return {
    async urlOf(account, registeredUrl) {
      const now = performance.now();
      let entry = cache.get(account);
      if (!entry || now - entry.at > PRESENCE_CACHE_MS) {
        entry = { at: now, live: livePresence(redis, presenceKey(account)).catch(() => []) };
        cache.set(account, entry);
        if (cache.size > 10_000) cache.clear();
      }
      return chooseAccountUrl(registeredUrl, await entry.live);
    },
  };
}
