/**
 * What a projection says about entries it skips, without flooding: the first few of each kind
 * are logged one by one with their IDs and reasons, the rest are counted and summed up in one
 * line per kind per window of time (its count, first and last ID), however the entries arrive:
 * a tail that reads garbage in many small batches writes no more lines than a replay that reads
 * it in a few large ones. (The skipped-entries metric still counts every one.)
 */
import type { SkipKind } from './event-catalog.ts';
import type { Log } from './log.ts';
import type { StreamId } from './stream-id.ts';

/** Entries of one kind logged one by one in a process's life before they are only counted. */
export const SKIPS_LOGGED_PER_KIND = 5;

/** At most one summary line per kind this often. */
export const SKIP_SUMMARY_WINDOW_MS = 60_000;

export interface SkipLog {
  skipped(stream: string, id: StreamId, kind: SkipKind, reason: string): void;
  /** Writes the summary of each kind whose window has ended; cheap, called after every read. */
  tick(): void;
  /** Writes every summary pending, window ended or not (caught up, stopping). */
  flush(): void;
}

export interface SkipLogOptions {
  firstPerKind?: number;
  windowMs?: number;
  /** Milliseconds on a monotonic clock; a test passes its own. */
  now?: () => number;
}

interface Unlogged {
  count: number;
  firstId: StreamId;
  lastId: StreamId;
  stream: string;
  /** When the first of them was counted: the window ends `windowMs` later. */
  since: number;
}

export function skipLog(log: Log, projection: string, options: SkipLogOptions = {}): SkipLog {
  const firstPerKind = options.firstPerKind ?? SKIPS_LOGGED_PER_KIND;
  const windowMs = options.windowMs ?? SKIP_SUMMARY_WINDOW_MS;
  const now = options.now ?? (() => performance.now());
  const loggedPerKind = new Map<SkipKind, number>();
  const unlogged = new Map<SkipKind, Unlogged>();

  const summarize = (kind: SkipKind, { count, firstId, lastId, stream }: Unlogged) => {
    unlogged.delete(kind);
    log.warn({ projection, stream, kind, count, firstId, lastId }, 'skipped more stream entries of this kind');
  };

  return {
    skipped(stream, id, kind, reason) {
      const logged = loggedPerKind.get(kind) ?? 0;
      if (logged < firstPerKind) {
        loggedPerKind.set(kind, logged + 1);
        const last =
          logged + 1 === firstPerKind
            ? `; more of this kind are counted, summed up at most once every ${Math.round(windowMs / 1000)} s`
            : '';
        log.warn({ projection, stream, id, kind, reason }, `skipped stream entry${last}`);
        return;
      }
      const summary = unlogged.get(kind);
      if (summary) {
        summary.count++;
        summary.lastId = id;
      } else {
        unlogged.set(kind, { count: 1, firstId: id, lastId: id, stream, since: now() });
      }
    },
    tick() {
      if (unlogged.size === 0) return;
      const at = now();
      for (const [kind, summary] of unlogged) if (at - summary.since >= windowMs) summarize(kind, summary);
    },
    flush() {
      for (const [kind, summary] of unlogged) summarize(kind, summary);
    },
  };
}
