/**
 * What a projection says about entries it skips, without flooding: the first few of each kind
 * are logged one by one with their IDs and reasons, the rest as one line per batch with a count
 * per kind. (The skipped-entries metric still counts every one.) 100,000 garbage entries cost a
 * few dozen lines, not 100,000, on every replay.
 */
import type { SkipKind } from './event-catalog.ts';
import type { Log } from './log.ts';
import type { StreamId } from './stream-id.ts';

/** Entries of one kind logged one by one in a process's life before they are only counted. */
export const SKIPS_LOGGED_PER_KIND = 5;

export interface SkipLog {
  skipped(stream: string, id: StreamId, kind: SkipKind, reason: string): void;
  /** Writes the batch's summary line, if anything went unlogged in it. */
  endOfBatch(): void;
}

export function skipLog(log: Log, projection: string, firstPerKind = SKIPS_LOGGED_PER_KIND): SkipLog {
  const loggedPerKind = new Map<SkipKind, number>();
  let unlogged = new Map<SkipKind, { count: number; firstId: StreamId; lastId: StreamId; stream: string }>();
  return {
    skipped(stream, id, kind, reason) {
      const logged = loggedPerKind.get(kind) ?? 0;
      if (logged < firstPerKind) {
        loggedPerKind.set(kind, logged + 1);
        const last = logged + 1 === firstPerKind ? '; more of this kind are counted, not logged one by one' : '';
        log.warn({ projection, stream, id, kind, reason }, `skipped stream entry${last}`);
        return;
      }
      const summary = unlogged.get(kind);
      if (summary) {
        summary.count++;
        summary.lastId = id;
      } else {
        unlogged.set(kind, { count: 1, firstId: id, lastId: id, stream });
      }
    },
    endOfBatch() {
      if (unlogged.size === 0) return;
      for (const [kind, { count, firstId, lastId, stream }] of unlogged) {
        log.warn({ projection, stream, kind, count, firstId, lastId }, 'skipped more stream entries of this kind');
      }
      unlogged = new Map();
    },
  };
}
