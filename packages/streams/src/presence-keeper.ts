/**
 * Keeps one live process present at a presence key (presence.ts): refreshed every third of its
 * time to live until `signal` aborts, then gone at once on `leave()` rather than when it runs out.
 * An account's instance is present under its account's presenceKey with the URL it answers at and
 * watches for other instances claiming the same name; a transfer processor is present under
 * processorsPresenceKey with no URL ('-') and minds nobody else.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import { errorMessage } from './errors.ts';
import type { Log } from './log.ts';
import { type LiveInstance, leavePresence, refreshPresence } from './presence.ts';
import { type RedisClient, untilReady } from './redis-connection.ts';

/** How soon a refresh that failed is tried again (once the connection is ready). */
const RETRY_MS = 250;

export interface PresenceKeeperOptions {
  redis: RedisClient;
  /** presenceKey(account) or processorsPresenceKey(prefix). */
  key: string;
  instance: string;
  /** Where the instance answers; '-' when it answers nowhere. */
  url: string;
  /** How long the instance counts as alive without a refresh. */
  ttlMs: number;
  /** Refreshing stops when it aborts; then `leave()`. */
  signal: AbortSignal;
  /** A refresh that failed is logged at debug level (and tried again at the next one). */
  log?: Log;
  /** Told once of each other instance found live at the key, at the refresh that first finds it. */
  onOther?: (other: LiveInstance) => void;
}

export interface KeptPresence {
  /** Kept up to date at each refresh. */
  readonly counts: Readonly<PresenceCounts>;
  /** Waits for the refreshing to end (after `signal` aborted), then leaves. */
  leave(): Promise<void>;
}

/** What a kept presence has counted. */
export interface PresenceCounts {
  /** Live instances at the key at the last refresh, this one included. */
  liveInstances: number;
  /** Other instances found live at the key while this one lived (counted only with `onOther`). */
  othersSeen: number;
}

export function keepPresence(options: PresenceKeeperOptions): KeptPresence {
  const { redis, key, instance, url, ttlMs, signal, log, onOther } = options;
  const counts: PresenceCounts = { liveInstances: 0, othersSeen: 0 };
  const othersSeen = new Set<string>();
  const refreshing = (async () => {
    while (!signal.aborted) {
      // A refresh sent before the connection is ready is refused (its offline queue is off): on a
      // connection just made, or during a reconnect, wait for it rather than miss a third of the TTL.
      await untilReady(redis, signal).catch(() => {});
      if (signal.aborted) break;
      let refreshed = false;
      try {
        const live = await refreshPresence(redis, key, instance, url, ttlMs);
        counts.liveInstances = live.length;
        if (onOther) {
          for (const other of live) {
            if (other.instance === instance || othersSeen.has(other.instance)) continue;
            othersSeen.add(other.instance);
            counts.othersSeen = othersSeen.size;
            onOther(other);
          }
        }
        refreshed = true;
      } catch (error) {
        log?.debug({ key, err: errorMessage(error) }, 'presence not refreshed; trying again');
      }
      // After a failure, soon again (once the connection is back): the TTL runs meanwhile.
      await sleep(refreshed ? ttlMs / 3 : Math.min(ttlMs / 3, RETRY_MS), undefined, { signal }).catch(() => {});
    }
  })();
  return {
    counts,
    async leave() {
      await refreshing;
      await leavePresence(redis, key, instance, url).catch(() => {});
    },
  };
}
