/**
 * A projection reader's tail: one XREAD BLOCK of every stream followed (on a cluster, one XREAD
 * per slot without blocking, and a short poll, when they span several), the incarnation markers
 * read right behind it, a wait after a read that brought entries (lingerMs) that a position waited
 * for or a stream followed ends at once, and a blocked read woken (CLIENT UNBLOCK) when a stream
 * is followed. A failed read is retried once the connection is back, after checking the streams.
 */

import { batchSizer } from './batch-sizer.ts';
import { confirmRead } from './confirmed-write.ts';
import { withDeadline } from './deadline.ts';
import { errorMessage } from './errors.ts';
import { ReadTooLarge, readAfter, readCapped, type StreamsRead, watchedRead } from './event-store.ts';
import { Diverged } from './projection-continuity.ts';
import { type ReaderContext, TAIL_WATCHDOG_MARGIN_MS } from './projection-reading.ts';
import { commandOnNodeOf, readTogether, readyOrReconnect } from './redis-connection.ts';
import { isPermanentRedisError } from './redis-errors.ts';
import { askIncarnations } from './stream-continuity.ts';
import type { StreamId } from './stream-id.ts';

/**
 * How long a tail that reads several groups without blocking (a cluster's) waits after a read that
 * brought nothing: POLL_MS, doubled after each further empty read up to POLL_MAX_MS, and POLL_MS
 * again once a read brings entries. Every read is a command per group (a slot) and one for its
 * markers: the books of a cluster bank, polling a dozen slots every 25 ms, spent about 50 ms of CPU
 * a second doing nothing. A read that waits for a position (read-your-writes) ends the wait at once.
 */
const POLL_MS = 25;
const POLL_MAX_MS = 200;

export interface Tail {
  /** Tails until stopped; throws Diverged, a permanent error, or anything once stopped. */
  run(): Promise<void>;
  /** A stream was followed: no wait before the next read, and a blocked read is woken. */
  followed(): void;
  /** Ends a wait after a read at once. */
  hurry(): void;
}

export function projectionTail(
  reader: ReaderContext,
  { blockMs, lingerMs, continuityCheckMs }: { blockMs: number; lingerMs: number; continuityCheckMs: number },
): Tail {
  const { name, redis, tailRedis, log, primary, positions, continuity, listener, signal } = reader;
  const tailSizer = batchSizer(reader.maxBatch);
  /** The tail connection's client ID while it blocks, so that `follow` can wake it (CLIENT UNBLOCK). */
  let tailClientId: Promise<number> | undefined;
  /** A stream of the slot whose node that ID is of (on a cluster, the tail has a connection per node). */
  let tailStream: string | undefined;
  let tailBlocked = false;
  /** Ends the wait after a read (lingerMs) at once, while there is one. */
  let endLinger: (() => void) | undefined;
  /** A stream was followed since the last read was sent: the next read comes without a wait. */
  let followedSinceRead = false;
  /** Reads in a row that brought nothing, of a tail that polls. */
  let emptyPolls = 0;
  // A cluster client's node connections come and go with its own 'close' too (all of them).
  tailRedis.on('close', () => {
    tailClientId = undefined;
  });

  /**
   * Reads what came since the last read, and applies it; answers how long to wait before the next
   * read (lingerMs after a read that brought entries, the poll's wait after an empty one). The
   * streams one command may read together (readTogether: all of them on a single Redis, those of one
   * slot on a cluster) are one group: a single group is read with a blocking XREAD; several (a
   * cluster's books follow ledgers on many slots) are each read at once without blocking, and the
   * tail polls.
   */
  async function tailOnce(): Promise<number> {
    const groups = readTogether(tailRedis, [...positions], ([stream]) => stream);
    const block = groups.length === 1;
    const [only] = groups;
    if (block && only && tailClientId === undefined) {
      // Sent before the XREAD on the connection that reads this slot, so it is answered while the
      // read blocks; a keyless command goes to that node only in a pipeline with a key of its slot.
      const asked = commandOnNodeOf(tailRedis, only[0]?.[0] ?? primary, 'CLIENT', 'ID').then(Number);
      asked.catch(() => {
        if (tailClientId === asked) tailClientId = undefined;
      });
      tailClientId = asked;
      tailStream = only[0]?.[0];
    }
    tailBlocked = block;
    followedSinceRead = false;
    let brought = false;
    try {
      // The groups' reads share the byte watch of every node connection (watchedRead): so many times the budget.
      const limit = 2 * tailSizer.byteBudget * groups.length;
      // Each group stands alone: one whose read fails or is not confirmed (its shard failing over)
      // keeps its positions, and the others are applied all the same; then the failure is thrown.
      const reads = await Promise.allSettled(
        groups.map((group) => readGroup(group, block ? blockMs : undefined, limit)),
      );
      for (const read of reads) {
        if (read.status === 'rejected') continue;
        for (const [stream, entries] of read.value) {
          tailSizer.observe(entries);
          reader.consume(stream, entries);
          brought ||= entries.length > 0;
          // As readBatches does (event-store.ts): a reply's array left whole keeps its entries alive.
          entries.length = 0;
        }
      }
      const failed = reads.find((read) => read.status === 'rejected');
      if (failed) throw failed.reason;
    } finally {
      tailBlocked = false;
    }
    reader.skips.tick();
    listener.tailed();
    emptyPolls = brought || block ? 0 : emptyPolls + 1;
    if (brought) return lingerMs;
    return block ? 0 : Math.min(POLL_MS * 2 ** (emptyPolls - 1), POLL_MAX_MS);
  }

  /**
   * Reads one group of streams (waiting up to `waitMs` for entries when given), with their
   * incarnation markers read right behind, on the same connection: the entries are confirmed to
   * come from the incarnations adopted.
   */
  async function readGroup(
    reading: Array<[string, StreamId]>,
    waitMs: number | undefined,
    limit: number,
  ): Promise<StreamsRead> {
    const streams = reading.map(([stream]) => stream);
    const count = tailSizer.count;
    let reads: StreamsRead;
    let markers: Array<string | null>;
    try {
      const read = watchedRead(tailRedis, limit, () => readAfter(tailRedis, reading, waitMs, count));
      // Queued behind the read on its connection, so Redis answers it right after the entries:
      // the incarnation they came from, even when Redis lost data and was written to before.
      const markersAsked = askIncarnations(tailRedis, streams);
      markersAsked.catch(() => {});
      [reads, markers] = await withDeadline(
        (async () => [await read, await markersAsked] as const)(),
        (waitMs ?? 0) + TAIL_WATCHDOG_MARGIN_MS,
        'tail read',
        () => tailRedis.disconnect(true),
      );
    } catch (error) {
      if (!(error instanceof ReadTooLarge)) throw error;
      // Read what came since with huge entries left in Redis, one bounded read per stream.
      tailSizer.overflowed();
      reads = [];
      for (const [stream, position] of reading) {
        reads.push([stream, await readCapped(redis, stream, position, '+', count, tailSizer.byteBudget)]);
      }
      markers = await askIncarnations(redis, streams);
    }
    const confirmed = continuity.confirm(reads, streams, markers);
    // Nothing a replica does not hold is applied (confirmRead).
    await confirmRead(redis, confirmed);
    return confirmed;
  }

  /** Waits `ms`, or until endLinger is called. */
  function linger(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const end = () => {
        clearTimeout(timer);
        endLinger = undefined;
        resolve();
      };
      const timer = setTimeout(end, ms);
      endLinger = end;
    });
  }

  async function tail(): Promise<void> {
    let failing = 0;
    while (!signal.aborted) {
      try {
        if (continuity.sinceCheckMs >= continuityCheckMs) await continuity.checkStreams();
        else await continuity.adoptFollowed();
        const waitMs = await tailOnce();
        failing = 0;
        // No wait while a read waits for a position (it may have been asked for while this read was
        // on its way, or be beyond what it brought), nor for a stream just followed.
        if (waitMs > 0 && listener.waiting === 0 && !followedSinceRead && !signal.aborted) await linger(waitMs);
      } catch (error) {
        if (signal.aborted || error instanceof Diverged || isPermanentRedisError(error)) throw error;
        if (failing === 0) log.warn({ projection: name, err: errorMessage(error) }, 'tail read failed');
        failing++;
        // On a cluster the slot may be served by another node now, with another client ID.
        tailClientId = undefined;
        await readyOrReconnect(tailRedis, TAIL_WATCHDOG_MARGIN_MS, signal);
        // A reconnect may be a Redis that restarted on another volume.
        await continuity.checkStreams();
        log.info({ projection: name, position: positions.get(primary) }, 'tail resumed');
      }
    }
  }

  return {
    run: tail,
    followed() {
      followedSinceRead = true;
      endLinger?.();
      if (tailBlocked && tailClientId !== undefined) {
        const stream = tailStream ?? primary;
        tailClientId.then((id) => commandOnNodeOf(redis, stream, 'CLIENT', 'UNBLOCK', id)).catch(() => {});
      }
    },
    hurry() {
      endLinger?.();
    },
  };
}
