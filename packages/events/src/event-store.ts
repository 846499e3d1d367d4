/** The event store on a Redis Stream: append, read a range in prefetched batches, read what follows. */
import type { Redis } from 'ioredis';
import type { AccountEvent } from './account-events.ts';
import { type EntryFields, encodeEvent } from './entry-layout.ts';
import { STREAM_START, type StreamId } from './stream-id.ts';

/** An entry as read from the stream, not yet decoded. */
export type RawEntry = [id: StreamId, fields: EntryFields];

/**
 * An entry read with buffer replies, as projections read: ioredis then skips converting every
 * field to a string, a third of the cost of reading, and the decoder converts only what it needs.
 */
export type StoredEntry = [id: Buffer, fields: Buffer[]];

/** Appends one event; returns the ID Redis gave it (its position on the stream). */
export async function appendEvent(redis: Redis, stream: string, event: AccountEvent): Promise<StreamId> {
  const id = await redis.xadd(stream, '*', ...encodeEvent(event));
  if (id === null) throw new Error(`XADD to ${stream} returned no ID`);
  return id;
}

/**
 * The entries after `after` up to and including `until`, in batches of `batchSize`.
 * While the caller works on one batch, the next one is already on its way.
 */
export function readRange(
  redis: Redis,
  stream: string,
  after: StreamId,
  until: StreamId,
  batchSize: number,
): AsyncGenerator<RawEntry[]> {
  const fetch = (from: StreamId) => redis.xrange(stream, `(${from}`, until, 'COUNT', batchSize) as Promise<RawEntry[]>;
  return prefetched(fetch, (entry) => entry[0], after, batchSize);
}

/** readRange with buffer replies. */
export function readRangeBuffers(
  redis: Redis,
  stream: string,
  after: StreamId,
  until: StreamId,
  batchSize: number,
): AsyncGenerator<StoredEntry[]> {
  const fetch = (from: StreamId) =>
    redis.xrangeBuffer(stream, `(${from}`, until, 'COUNT', batchSize) as unknown as Promise<StoredEntry[]>;
  return prefetched(fetch, (entry) => entry[0].toString('latin1'), after, batchSize);
}

async function* prefetched<Entry>(
  fetch: (after: StreamId) => Promise<Entry[]>,
  idOf: (entry: Entry) => StreamId,
  after: StreamId,
  batchSize: number,
): AsyncGenerator<Entry[]> {
  let next: Promise<Entry[]> | undefined = fetch(after);
  try {
    while (next) {
      const batch = await next;
      next = undefined;
      const last = batch.at(-1);
      if (last === undefined) return;
      if (batch.length === batchSize) next = fetch(idOf(last));
      yield batch;
    }
  } finally {
    // A caller that stops early leaves a prefetch in flight: its failure is nobody's business.
    next?.catch(() => {});
  }
}

/** Waits up to `blockMs` for entries after `after` (XREAD BLOCK); an empty list when none came. */
export async function readAfterBuffers(
  tailRedis: Redis,
  stream: string,
  after: StreamId,
  blockMs: number,
  count: number,
): Promise<StoredEntry[]> {
  const reply = await tailRedis.xreadBuffer('COUNT', count, 'BLOCK', blockMs, 'STREAMS', stream, after);
  return (reply?.[0]?.[1] as unknown as StoredEntry[] | undefined) ?? [];
}

/**
 * The stream's last generated ID (or STREAM_START when there is no stream). Unlike the last
 * entry's ID, it does not move back when entries at the end are deleted by hand.
 */
export async function streamEnd(redis: Redis, stream: string): Promise<StreamId> {
  let info: unknown[];
  try {
    info = (await redis.xinfo('STREAM', stream)) as unknown[];
  } catch (error) {
    if (error instanceof Error && /no such key/i.test(error.message)) return STREAM_START;
    throw error;
  }
  const at = info.indexOf('last-generated-id');
  const id = info[at + 1];
  if (at < 0 || typeof id !== 'string') throw new Error(`XINFO STREAM ${stream} gave no last-generated-id`);
  return id;
}
