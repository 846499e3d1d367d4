/**
 * Does a stream still hold what a reader consumed from it? Redis restarted on an empty or older
 * volume may have been written to again before the reader looks, so its end alone proves
 * nothing. A stream is continuous for a reader at `position` when:
 *  - its incarnation marker is the one the reader adopted (the marker is lost with the data, and
 *    whoever looks first after a loss creates a new one), and
 *  - its last generated ID is not before `position`, and
 *  - the entry at `position` is still there, or was removed on purpose: trimmed away (it is
 *    before the first entry Redis records, and the stream has had entries removed: more were
 *    ever added than it holds) or deleted (XDEL: it is not after the highest deleted ID).
 * A stream written anew whose new entries are past `position` still passes for a trimmed one once
 * one of them was removed, so the marker is what settles it: a reader adopts it before it reads
 * the stream, and reads it again right behind every read (askIncarnations), so that entries of
 * another incarnation are never taken for the continuation of the one it applied.
 */

import { randomUUID } from 'node:crypto';
import { parseStreamInfo } from './event-store.ts';
import { incarnationKey } from './keys.ts';
import { type RedisClient, readTogether } from './redis-connection.ts';
import { compareStreamIds, STREAM_START, type StreamId } from './stream-id.ts';

export interface ContinuityCheck {
  /** The stream's incarnation now: the reader adopts it when `lost` is undefined. */
  incarnation: string;
  /** Why the stream no longer holds what the reader consumed, or undefined when it does. */
  lost?: string;
}

/**
 * Checks `stream` for a reader at `position` that adopted `incarnation` (undefined: not yet). A
 * reply error (WRONGTYPE: the key is no longer a stream) is thrown as it is.
 */
export async function checkContinuity(
  redis: RedisClient,
  stream: string,
  position: StreamId,
  incarnation: string | undefined,
): Promise<ContinuityCheck> {
  const marker = incarnationKey(stream);
  const consumed = position !== STREAM_START;
  const pipeline = redis.pipeline().set(marker, randomUUID(), 'NX').get(marker).xinfo('STREAM', stream);
  if (consumed) pipeline.xrange(stream, position, position, 'COUNT', 1);
  const replies = (await pipeline.exec()) ?? [];
  const reply = (i: number) => (replies[i] ?? [null, undefined]) as [Error | null, unknown];
  const [, current] = reply(1);
  const [infoError, info] = reply(2);
  const entryReply = consumed ? reply(3) : undefined;
  if (typeof current !== 'string') throw new Error(`GET ${marker} gave no incarnation`);
  const verdict = (lost?: string): ContinuityCheck =>
    lost ? { incarnation: current, lost } : { incarnation: current };
  if (!consumed) return verdict();
  const changed = incarnation === undefined ? undefined : incarnationChanged(stream, incarnation, current);
  if (changed) return verdict(changed);
  if (infoError) {
    if (/no such key/i.test(infoError.message)) return verdict(`${stream} is gone, with the entries up to ${position}`);
    throw infoError;
  }
  if (entryReply?.[0]) throw entryReply[0];
  const stored = parseStreamInfo(stream, info as unknown[]);
  if (compareStreamIds(stored.lastGeneratedId, position) < 0) {
    return verdict(`${stream} ends at ${stored.lastGeneratedId}, before ${position}, which this service applied`);
  }
  const present = (entryReply?.[1] as unknown[] | undefined)?.length === 1;
  // A stream that never lost an entry was not trimmed: its first entry after `position` means the
  // entry at `position` was never on it (written anew, a snapshot of data Redis lost).
  const removedSome = stored.entriesAdded > stored.length;
  const trimmed = removedSome && (stored.length === 0 || compareStreamIds(position, stored.recordedFirstEntryId) < 0);
  const deleted = compareStreamIds(position, stored.maxDeletedEntryId) <= 0;
  if (!present && !trimmed && !deleted) {
    return verdict(
      `the entry ${position} of ${stream}, which this service applied, is gone (neither trimmed nor deleted)`,
    );
  }
  return verdict();
}

/**
 * The incarnation markers of `streams`, in order, as they are now: one MGET per hash tag (one on a
 * single Redis holding no tag). Sent on a connection right behind a read of the same streams, it is
 * answered just after the read: it tells which incarnation the entries came from.
 */
export async function askIncarnations(redis: RedisClient, streams: readonly string[]): Promise<Array<string | null>> {
  const groups = readTogether(redis, streams, (stream) => stream);
  if (groups.length === 1) return redis.mget(streams.map(incarnationKey));
  const markers = new Map<string, string | null>();
  await Promise.all(
    groups.map(async (group) => {
      const values = await redis.mget(group.map(incarnationKey));
      for (const [i, stream] of group.entries()) markers.set(stream, values[i] ?? null);
    }),
  );
  return streams.map((stream) => markers.get(stream) ?? null);
}

/** Why entries read from `stream` with `marker` beside them are not of the incarnation `adopted`; undefined when they are. */
export function incarnationChanged(
  stream: string,
  adopted: string | undefined,
  marker: string | null,
): string | undefined {
  if (marker === adopted) return undefined;
  const how = marker === null ? 'its incarnation marker is gone' : 'its incarnation marker changed';
  return `${stream} was created anew (${how}): Redis lost the data this service applied`;
}
