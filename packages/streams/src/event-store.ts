/**
 * The event store on Redis Streams: append, read a range in prefetched batches, wait for what
 * follows (on one stream or many), and what Redis knows of a stream's end. Reads use buffer
 * replies: ioredis then skips converting every field to a string, and a decoder converts only
 * what it needs.
 */

import type { BatchSizer } from './batch-sizer.ts';
import { confirmedWrite } from './confirmed-write.ts';
import { type CatalogEvent, type EventCatalog, encodeEvent } from './event-catalog.ts';
import { defineScript } from './lua-scripts.ts';
import { isCluster, type RedisClient, untilReady } from './redis-connection.ts';
import type { StreamEntry } from './stream-entry.ts';
import { STREAM_START, type StreamId } from './stream-id.ts';

export type { StreamEntry } from './stream-entry.ts';

/**
 * Appends one event of `catalog`'s; returns the ID Redis gave it, its position on the stream. A
 * confirmed write (confirmed-write.ts): on a connection whose writes replicas confirm, it throws
 * Unconfirmed when they did not in time (the event may stand or be lost: append it again).
 */
export async function appendEvent<Event extends CatalogEvent>(
  redis: RedisClient,
  stream: string,
  catalog: EventCatalog<Event>,
  event: Event,
): Promise<StreamId> {
  const id = await confirmedWrite<string | null>(redis, stream, (pipeline) =>
    pipeline.xadd(stream, '*', ...encodeEvent(catalog, event)),
  );
  if (id === null) throw new Error(`XADD to ${stream} returned no ID`);
  return id;
}

/**
 * The entries after `after` up to and including `until`, in batches sized by `sizer` (bounded in
 * entries and in bytes). While the caller works on one batch, the next one is already on its way.
 * A read that brings far more bytes than the budget is cut off (its connection dropped) and that
 * stretch is read again with huge entries left in Redis (readCapped). A batch is emptied once the
 * caller asks for the next one: keep its entries, never the array.
 */
export async function* readBatches(
  redis: RedisClient,
  stream: string,
  after: StreamId,
  until: StreamId,
  sizer: BatchSizer,
): AsyncGenerator<StreamEntry[]> {
  const fetch = (from: StreamId, count: number) =>
    watchedRead(redis, 2 * sizer.byteBudget, () =>
      redis.xrangeBuffer(stream, `(${from}`, until, 'COUNT', count),
    ) as unknown as Promise<StreamEntry[]>;
  let from = after;
  let count = sizer.count;
  let next: Promise<StreamEntry[]> | undefined = fetch(from, count);
  try {
    while (next) {
      let batch: StreamEntry[];
      try {
        batch = await next;
      } catch (error) {
        if (!(error instanceof ReadTooLarge)) throw error;
        sizer.overflowed();
        batch = await readCapped(redis, stream, from, until, count, sizer.byteBudget);
      }
      next = undefined;
      const last = batch.at(-1);
      if (last === undefined) return;
      const more = batch.length === count;
      sizer.observe(batch);
      count = sizer.count;
      from = last[0].toString('latin1');
      if (more && sizer.prefetch) next = fetch(from, count);
      yield batch;
      // Something keeps each reply's array reachable from the old generation until the next full
      // collection (found by measuring, its holder not): while it is, every entry in it survives the
      // young collections and is copied, then promoted. Emptied, the entries die young. A cold 1M
      // replay allocated some 1.5 GB and promoted about 660 MB of it; see docs/performance.md.
      batch.length = 0;
      if (more && !next) next = fetch(from, count);
    }
  } finally {
    // A caller that stops early leaves a prefetch outstanding: its failure is nobody's business.
    next?.catch(() => {});
  }
}

/**
 * The entries of `stream` from `start` to `end` (XRANGE's bounds: `-`, `+`, an ID, or `(ID` to
 * leave it out), `count` at a time, as strings: for tools and checks that read a stream whole.
 * Replays read with readBatches (buffers, sized and bounded in bytes).
 */
export async function* entryPages(
  redis: RedisClient,
  stream: string,
  start = '-',
  end = '+',
  count = 1_000,
): AsyncGenerator<Array<[id: StreamId, fields: string[]]>> {
  for (let from = start; ; ) {
    const page = (await redis.xrange(stream, from, end, 'COUNT', count)) as Array<[StreamId, string[]]>;
    const last = page.at(-1);
    if (last === undefined) return;
    yield page;
    if (page.length < count) return;
    from = `(${last[0]}`;
  }
}

/** A read brought more bytes than it may: its connection was dropped to stop it. */
export class ReadTooLarge extends Error {}

/**
 * Runs `read` on `redis`, dropping the connection (ioredis connects again) when more than `limit`
 * bytes arrive while it is pending: a reply cannot be stopped any other way, and buffering it
 * whole is what would exhaust the process's memory.
 */
export async function watchedRead<T>(redis: RedisClient, limit: number, read: () => Promise<T>): Promise<T> {
  // A cluster client reads through a connection per node: the bytes of all of them are counted
  // (a tail's connection serves its reads only).
  const sockets = (isCluster(redis) ? redis.nodes() : [redis]).map(
    (node) => (node as unknown as { stream?: NodeJS.EventEmitter }).stream,
  );
  let bytes = 0;
  let dropped = false;
  const onData = (chunk: Buffer) => {
    bytes += chunk.length;
    if (bytes > limit && !dropped) {
      dropped = true;
      redis.disconnect(true);
    }
  };
  for (const socket of sockets) socket?.on('data', onData);
  try {
    return await read();
  } catch (error) {
    if (dropped) throw new ReadTooLarge(`a read brought more than ${limit} bytes; cut off`);
    throw error;
  } finally {
    for (const socket of sockets) socket?.off('data', onData);
  }
}

/**
 * Up to `count` entries after `after` (through `until`), at most about `byteBudget` bytes: an
 * entry larger than the budget comes back as a stub `[OVERSIZED_FIELD, <bytes>]` (event-catalog.ts). Slower than
 * XRANGE (a Lua script), so only for the stretch of a stream where XRANGE was cut off.
 */
export async function readCapped(
  redis: RedisClient,
  stream: string,
  after: StreamId,
  until: StreamId,
  count: number,
  byteBudget: number,
): Promise<StreamEntry[]> {
  await untilReady(redis, AbortSignal.timeout(10_000));
  defineScript(redis, 'xrangeCapped', 'read-range-capped-1.lua', import.meta.url);
  const capped = redis as unknown as {
    xrangeCappedBuffer(...args: Array<string | number>): Promise<StreamEntry[]>;
  };
  return capped.xrangeCappedBuffer(stream, `(${after}`, until, count, byteBudget);
}

/** What one read of several streams brought: per stream (by key), its new entries. */
export type StreamsRead = Array<[stream: string, entries: StreamEntry[]]>;

/**
 * Entries after each stream's position (XREAD, at most `count` per stream), waiting up to
 * `blockMs` for some when given (BLOCK); an empty list when none came or the wait was unblocked.
 */
export async function readAfter(
  tailRedis: RedisClient,
  positions: ReadonlyArray<readonly [stream: string, after: StreamId]>,
  blockMs: number | undefined,
  count: number,
): Promise<StreamsRead> {
  const keys = positions.map(([stream]) => stream);
  const ids = positions.map(([, after]) => after);
  const reply = (
    blockMs === undefined
      ? await tailRedis.xreadBuffer('COUNT', count, 'STREAMS', ...keys, ...ids)
      : await tailRedis.xreadBuffer('COUNT', count, 'BLOCK', blockMs, 'STREAMS', ...keys, ...ids)
  ) as Array<[Buffer, StreamEntry[]]> | null;
  return (reply ?? []).map(([stream, entries]) => [stream.toString('utf8'), entries]);
}

/**
 * The stream's last generated ID (or STREAM_START when there is no stream). Unlike the last
 * entry's ID, it does not move back when entries at the end are deleted by hand.
 */
export async function streamEnd(redis: RedisClient, stream: string): Promise<StreamId> {
  return (await streamInfo(redis, stream))?.lastGeneratedId ?? STREAM_START;
}

/** What XINFO STREAM tells of a stream's history; undefined when there is no such key. */
export interface StreamInfo {
  length: number;
  lastGeneratedId: StreamId;
  /** The highest ID ever deleted by XDEL (0-0 when none). */
  maxDeletedEntryId: StreamId;
  /** Every entry ever added, deleted or trimmed ones included. */
  entriesAdded: number;
  /** The first entry's ID as Redis records it (moves up when the stream is trimmed). */
  recordedFirstEntryId: StreamId;
}

export async function streamInfo(redis: RedisClient, stream: string): Promise<StreamInfo | undefined> {
  let reply: unknown[];
  try {
    reply = (await redis.xinfo('STREAM', stream)) as unknown[];
  } catch (error) {
    if (error instanceof Error && /no such key/i.test(error.message)) return undefined;
    throw error;
  }
  return parseStreamInfo(stream, reply);
}

export function parseStreamInfo(stream: string, reply: unknown[]): StreamInfo {
  const field = (name: string) => {
    const at = reply.indexOf(name);
    const value = at < 0 ? undefined : reply[at + 1];
    if (typeof value !== 'string' && typeof value !== 'number') {
      throw new Error(`XINFO STREAM ${stream} gave no ${name}`);
    }
    return String(value);
  };
  return {
    length: Number(field('length')),
    lastGeneratedId: field('last-generated-id'),
    maxDeletedEntryId: field('max-deleted-entry-id'),
    entriesAdded: Number(field('entries-added')),
    recordedFirstEntryId: field('recorded-first-entry-id'),
  };
}
