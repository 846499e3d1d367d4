/**
 * Snapshots of a projection in Redis, so that a restart replays only what came after them. The
 * streams stay the source of truth: a snapshot that is missing, forged or corrupt, of another
 * format or ahead of a stream is ignored (and logged), and the projection replays from the start.
 * Whoever can write to Redis could write a snapshot; only the services hold the secret its HMAC
 * is keyed with, so a snapshot they did not write is not loaded. (The owner's restore still
 * checks every row against the schema of the events it came from.)
 *
 * A snapshot is one hash, written in one HSET:
 *   format     the state's format; another one is not read
 *   positions  {"<stream>": "<ID of the last entry the state includes>", ...} as JSON
 *   state      the projection's state, as its owner encodes it
 *   hmac       HMAC-SHA256 of format, positions and state, keyed with the services' secret
 *   writtenAt  when, for people reading it with redis-cli
 */

import { createHmac, timingSafeEqual } from 'node:crypto';
import { errorMessage } from './errors.ts';
import type { Log } from './log.ts';
import type { RedisClient } from './redis-connection.ts';
import { compareStreamIds, isStreamId, type StreamId } from './stream-id.ts';

/** Per stream, the ID of the last entry a state includes. */
export type Positions = ReadonlyMap<string, StreamId>;

/** What the projection runner needs of a snapshot store. */
export interface ProjectionSnapshots {
  /**
   * Restores the state from the stored snapshot when it is valid and no stream of it is past its
   * end (`endOf`); resolves to its positions, or to undefined (the state untouched) when the
   * streams must be replayed from the start.
   */
  restore(endOf: (stream: string) => Promise<StreamId>): Promise<Positions | undefined>;
  /** Captures the state as it is now, at `positions`, and stores it. */
  save(positions: Positions): Promise<void>;
  /** Store a snapshot once this many entries have been consumed since the last one... */
  everyEntries: number;
  /** ...or once this long has passed since the last one and anything was consumed. */
  maxAgeMs: number;
}

export interface RedisSnapshotsOptions {
  redis: RedisClient;
  key: string;
  format: number;
  /** The secret the HMAC is keyed with (SNAPSHOT_KEY): the same in every service that shares the snapshot. */
  secret: string;
  log: Log;
  /** Names the projection in logs. */
  name: string;
  /** The state, encoded, as it is now. */
  capture: () => string;
  /** Replaces the state with a decoded one; throws, changing nothing, on a state it cannot read. */
  restore: (state: string) => void;
  everyEntries?: number;
  maxAgeMs?: number;
}

const FIELDS = ['format', 'positions', 'hmac', 'state'] as const;
type Stored = [format: string | null, positions: string | null, hmac: string | null, state: string | null];

/** The snapshot's signature: HMAC-SHA256, hex, over its format, positions and state. */
export function snapshotHmac(secret: string, format: string, positions: string, state: string): string {
  return createHmac('sha256', secret).update(`${format}\n${positions}\n`).update(state).digest('hex');
}

/** Compares in constant time, so the comparison tells nothing about how close a forgery came. */
function sameHmac(stored: string | null, expected: string): boolean {
  if (stored === null || stored.length !== expected.length) return false;
  return timingSafeEqual(Buffer.from(stored), Buffer.from(expected));
}

/** The positions a snapshot's field holds, or a reason they cannot be read. */
function parsePositions(text: string | null): Map<string, StreamId> | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text ?? '');
  } catch {
    return 'its positions are not JSON';
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return 'its positions are not an object';
  const positions = new Map<string, StreamId>();
  for (const [stream, id] of Object.entries(parsed)) {
    if (typeof id !== 'string' || !isStreamId(id)) return `its position on ${stream} is not a stream ID`;
    positions.set(stream, id);
  }
  return positions;
}

export function redisSnapshots(options: RedisSnapshotsOptions): ProjectionSnapshots {
  const { redis, key, log, name } = options;
  const format = String(options.format);

  /** The snapshot's positions when it can be used, else why not. */
  async function judge(
    stored: Stored,
    endOf: (stream: string) => Promise<StreamId>,
  ): Promise<Map<string, StreamId> | string> {
    const [storedFormat, positionsText, hmac, state] = stored;
    if (storedFormat !== format) return `it is of format ${storedFormat ?? 'none'}; this code reads ${format}`;
    if (state === null || positionsText === null) return 'it has no state or no positions';
    if (!sameHmac(hmac, snapshotHmac(options.secret, format, positionsText, state))) {
      return 'its HMAC does not match: not written with this secret, or changed since';
    }
    const positions = parsePositions(positionsText);
    if (typeof positions === 'string') return positions;
    for (const [stream, position] of positions) {
      const end = await endOf(stream);
      if (compareStreamIds(position, end) > 0) {
        return `it covers ${stream} up to ${position}, past the stream's end ${end} (Redis lost data?)`;
      }
    }
    return positions;
  }

  return {
    everyEntries: options.everyEntries ?? 10_000,
    maxAgeMs: options.maxAgeMs ?? 60_000,

    async restore(endOf) {
      const started = performance.now();
      const stored = (await redis.hmget(key, ...FIELDS)) as Stored;
      if (stored.every((field) => field === null)) {
        log.info({ projection: name, key }, 'no snapshot; replaying from the start');
        return undefined;
      }
      const judged = await judge(stored, endOf);
      if (typeof judged === 'string') return ignored(judged);
      try {
        options.restore(stored[3] as string);
      } catch (error) {
        return ignored(`its state does not read: ${errorMessage(error)}`);
      }
      log.info(
        { projection: name, key, positions: Object.fromEntries(judged), ms: Math.round(performance.now() - started) },
        'restored snapshot; replaying what follows it',
      );
      return judged;
    },

    async save(positions) {
      const started = performance.now();
      const state = options.capture();
      const positionsText = JSON.stringify(Object.fromEntries(positions));
      await redis.hset(key, {
        format,
        positions: positionsText,
        hmac: snapshotHmac(options.secret, format, positionsText, state),
        state,
        writtenAt: new Date().toISOString(),
      });
      log.info(
        { projection: name, key, bytes: state.length, ms: Math.round(performance.now() - started) },
        'snapshot stored',
      );
    },
  };

  function ignored(reason: string): undefined {
    log.warn({ projection: name, key, reason }, 'snapshot ignored; replaying from the start');
    return undefined;
  }
}
