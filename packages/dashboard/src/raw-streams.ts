/**
 * The streams themselves, as `redis-cli XRANGE` shows them: the last few entries of each, with
 * their IDs and fields, read again only when the stream moved (and at most twice a second).
 */
import type { RedisClient } from '@microbank/streams';
import type { RawEntry } from './sections.ts';

const ENTRIES = 6;
const REFRESH_MS = 500;

export interface RawStreams {
  /** Per stream key, its last entries, newest first. */
  entries(): Record<string, RawEntry[]>;
  stop(): void;
}

/** `streams()` names the streams to show and how far each has got (a changed position means: read again). */
export function watchRawStreams(
  redis: RedisClient,
  streams: () => Map<string, string>,
  onChange: () => void,
): RawStreams {
  const shown = new Map<string, { position: string; entries: RawEntry[] }>();
  const timer = setInterval(async () => {
    for (const [stream, position] of streams()) {
      if (shown.get(stream)?.position === position) continue;
      try {
        const last = (await redis.xrevrange(stream, '+', '-', 'COUNT', ENTRIES)) as Array<[string, string[]]>;
        shown.set(stream, { position, entries: last.map(([id, fields]) => ({ id, fields: fields.map(clip) })) });
        onChange();
      } catch {
        return; // Redis away: try again at the next tick
      }
    }
  }, REFRESH_MS);
  timer.unref();
  return {
    entries: () => Object.fromEntries([...shown].map(([stream, { entries }]) => [stream, entries])),
    stop: () => clearInterval(timer),
  };
}

/** A field as the page shows it: long values cut (a hostile 50 MB entry must not reach the browser). */
function clip(value: string): string {
  return value.length <= 400 ? value : `${value.slice(0, 400)}…(${value.length} characters)`;
}
