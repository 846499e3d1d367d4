/**
 * Server-sent events for every open page from one source: four times a second at most, when
 * anything changed, the changed sections are rendered and serialized once and written to every
 * page. An event's ID is `<epoch>:<version>`; a page that reconnects sends the last one it had
 * (Last-Event-ID) and gets the sections changed since (all of them after a restart of the
 * dashboard, whose epoch is another), so what it shows has no gap.
 */
import { randomBytes } from 'node:crypto';
import type { BankView } from './bank-view.ts';
import type { LiveEvent } from './sections.ts';

export interface Subscriber {
  send(event: LiveEvent, id: string, data: string): void;
}

const PUSH_EVERY_MS = 250;
export const MAX_PAGES = 200;

export interface LiveUpdates {
  readonly pages: number;
  /** Adds a page that last saw `lastEventId` (undefined: none); returns how to remove it, or undefined when full. */
  join(subscriber: Subscriber, lastEventId: string | undefined): (() => void) | undefined;
  stop(): void;
}

export function liveUpdates(view: BankView): LiveUpdates {
  const epoch = randomBytes(4).toString('hex');
  const subscribers = new Set<Subscriber>();
  let pushed = view.version();

  const timer = setInterval(() => {
    const version = view.version();
    if (subscribers.size === 0) pushed = version;
    if (version === pushed) return;
    const data = JSON.stringify(view.changes(pushed));
    pushed = version;
    for (const subscriber of subscribers) subscriber.send('patch', `${epoch}:${version}`, data);
  }, PUSH_EVERY_MS);
  timer.unref();

  return {
    get pages() {
      return subscribers.size;
    },
    join(subscriber, lastEventId) {
      if (subscribers.size >= MAX_PAGES) return undefined;
      const [seenEpoch, seenVersion] = (lastEventId ?? '').split(':');
      const since = seenEpoch === epoch && Number(seenVersion) <= view.version() ? Number(seenVersion) : 0;
      const version = view.version();
      subscriber.send(since === 0 ? 'state' : 'patch', `${epoch}:${version}`, JSON.stringify(view.changes(since)));
      subscribers.add(subscriber);
      return () => subscribers.delete(subscriber);
    },
    stop: () => clearInterval(timer),
  };
}
