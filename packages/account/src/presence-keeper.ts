/**
 * Keeps this instance's presence fresh (refreshed every third of its time to live), and notices
 * other live instances claiming the same account: logged once each, and counted. A graceful stop
 * leaves at once, so that balance stops asking this instance before its presence runs out.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { errorMessage, type Log, leavePresence, presenceKey, refreshPresence } from '@microbank/events';
import type { Redis } from 'ioredis';

export interface PresenceOptions {
  redis: Redis;
  account: string;
  instance: string;
  url: string;
  ttlMs: number;
  log: Log;
  signal: AbortSignal;
}

export interface Presence {
  /** Live instances of this account at the last refresh, this one included. */
  readonly liveInstances: number;
  /** Other instances seen claiming this account while this one lives. */
  readonly duplicateClaims: number;
  /** Stops refreshing and leaves (after `signal` aborted). */
  leave(): Promise<void>;
}

export function keepPresent({ redis, account, instance, url, ttlMs, log, signal }: PresenceOptions): Presence {
  let liveInstances = 0;
  const othersSeen = new Set<string>();
  const refreshing = (async () => {
    while (!signal.aborted) {
      try {
        const live = await refreshPresence(redis, presenceKey(account), instance, url, ttlMs);
        liveInstances = live.length;
        for (const other of live) {
          if (other.instance === instance || othersSeen.has(other.instance)) continue;
          othersSeen.add(other.instance);
          log.warn(
            { account, other: other.instance, otherUrl: other.url },
            'another live instance claims this account; balance asks the one registered last while it lives',
          );
        }
      } catch (error) {
        log.debug({ err: errorMessage(error) }, 'presence not refreshed; trying again');
      }
      await sleep(ttlMs / 3, undefined, { signal }).catch(() => {});
    }
  })();
  return {
    get liveInstances() {
      return liveInstances;
    },
    get duplicateClaims() {
      return othersSeen.size;
    },
    async leave() {
      await refreshing;
      await leavePresence(redis, presenceKey(account), instance, url).catch(() => {});
    },
  };
}
