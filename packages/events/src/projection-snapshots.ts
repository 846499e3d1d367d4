/**
 * Snapshots of a projection in Redis, so that a restart replays only what came after them. The
 * streams stay the source of truth: a snapshot that is missing, corrupt, of another format or
 * ahead of a stream is ignored (and logged), and the projection replays from the start.
 *
 * A snapshot is one hash, written in one HSET:
 *   format     the state's format; another one is not read
 *   positions  {"<stream>": "<ID of the last entry the state includes>", ...} as JSON
 *   state      the projection's state, as its owner encodes it
 *   checksum   sha256 of format, positions and state
 *   writtenAt  when, for people reading it with redis-cli
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { errorMessage } from './errors.ts';
import type { Log } from './log.ts';
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
  redis: Redis;
  key: string;
  format: number;
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

const FIELDS = ['format', 'positions', 'checksum', 'state'] as const;
type Stored = [format: string | null, positions: string | null, checksum: string | null, state: string | null];

export function checksumOf(format: string, positions: string, state: string): string {
  return createHash('sha256').update(`${format}\n${positions}\n`).update(state).digest('hex');
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
    const [storedFormat, positionsText, checksum, state] = stored;
    if (storedFormat !== format) return `it is of format ${storedFormat ?? 'none'}; this code reads ${format}`;
    if (state === null || positionsText === null || checksum !== checksumOf(format, positionsText, state)) {
      return 'its checksum does not match';
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
        checksum: checksumOf(format, positionsText, state),
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
