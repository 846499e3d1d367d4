/**
 * Snapshots of a projection in Redis, so that a restart replays only what came after them. The
 * stream stays the source of truth: a snapshot that is missing, corrupt, of another format or
 * ahead of the stream is ignored (and logged), and the projection replays the whole stream.
 *
 * A snapshot is one hash, written in one HSET:
 *   format    the state's format; another one is not read
 *   position  the stream ID of the last entry the state includes
 *   state     the projection's state, as its owner encodes it
 *   checksum  sha256 of format, position and state
 *   writtenAt when, for people reading it with redis-cli
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Log } from './log.ts';
import { compareStreamIds, isStreamId, type StreamId } from './stream-id.ts';

/** What the projection runner needs of a snapshot store. */
export interface ProjectionSnapshots {
  /**
   * Restores the state from the stored snapshot when it is valid and no later than `streamEnd`;
   * resolves to its position, or to undefined (the state untouched) when the stream must be
   * replayed from the start.
   */
  restore(streamEnd: StreamId): Promise<StreamId | undefined>;
  /** Captures the state as it is now, at `position`, and stores it. */
  save(position: StreamId): Promise<void>;
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

const FIELDS = ['format', 'position', 'checksum', 'state'] as const;

export function checksumOf(format: string, position: string, state: string): string {
  return createHash('sha256').update(`${format}\n${position}\n`).update(state).digest('hex');
}

export function redisSnapshots(options: RedisSnapshotsOptions): ProjectionSnapshots {
  const { redis, key, log, name } = options;
  const format = String(options.format);

  /** Why the stored snapshot cannot be used, or undefined when it can. */
  type Stored = [format: string | null, position: string | null, checksum: string | null, state: string | null];

  function unusable(stored: Stored, streamEnd: StreamId): string | undefined {
    const [storedFormat, position, checksum, state] = stored;
    if (storedFormat !== format) return `it is of format ${storedFormat ?? 'none'}; this code reads ${format}`;
    if (position === null || !isStreamId(position)) return 'its position is not a stream ID';
    if (state === null || checksum !== checksumOf(format, position, state)) return 'its checksum does not match';
    if (compareStreamIds(position, streamEnd) > 0) {
      return `it covers up to ${position}, past the stream's end ${streamEnd} (Redis lost data?)`;
    }
    return undefined;
  }

  return {
    everyEntries: options.everyEntries ?? 10_000,
    maxAgeMs: options.maxAgeMs ?? 60_000,

    async restore(streamEnd) {
      const started = performance.now();
      const stored = (await redis.hmget(key, ...FIELDS)) as Stored;
      if (stored.every((field) => field === null)) {
        log.info({ projection: name, key }, 'no snapshot; replaying the whole stream');
        return undefined;
      }
      const reason = unusable(stored, streamEnd);
      const [, position, , state] = stored as [string, StreamId, string, string];
      if (reason === undefined) {
        try {
          options.restore(state);
          log.info(
            { projection: name, key, position, ms: Math.round(performance.now() - started) },
            'restored snapshot; replaying what follows it',
          );
          return position;
        } catch (error) {
          return ignored(`its state does not read: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
      return ignored(reason);
    },

    async save(position) {
      const started = performance.now();
      const state = options.capture();
      await redis.hset(key, {
        format,
        position,
        checksum: checksumOf(format, position, state),
        state,
        writtenAt: new Date().toISOString(),
      });
      log.info(
        { projection: name, key, position, bytes: state.length, ms: Math.round(performance.now() - started) },
        'snapshot stored',
      );
    },
  };

  function ignored(reason: string): undefined {
    log.warn({ projection: name, key, reason }, 'snapshot ignored; replaying the whole stream');
    return undefined;
  }
}
