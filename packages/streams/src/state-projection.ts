/**
 * One state folded from one stream, as the registry and each ledger are: a commands connection, a
 * tail connection, the projection runner, and signed snapshots in Redis when the service asks.
 */
import type { Redis } from 'ioredis';
import type { DecodedEntry } from './event-catalog.ts';
import { snapshotKey } from './keys.ts';
import type { Log } from './log.ts';
import { type Projection, startProjection } from './projection.ts';
import { type RedisSnapshotsOptions, redisSnapshots } from './projection-snapshots.ts';
import { closeRedis, connectRedis } from './redis-connection.ts';
import type { StreamId } from './stream-id.ts';

/**
 * Snapshots signed with `secret` (SNAPSHOT_KEY), from which a start resumes; or none (false):
 * every start replays the whole stream.
 */
export type SnapshotSetting = false | Pick<RedisSnapshotsOptions, 'secret' | 'everyEntries' | 'maxAgeMs'>;

export interface StateProjectionOptions<Event> {
  redisUrl: string;
  log: Log;
  /** Names the projection and its connections, e.g. "account-system". */
  name: string;
  stream: string;
  decode: (fields: readonly Buffer[]) => DecodedEntry<Event>;
  apply: (event: Event, id: StreamId) => void;
  /**
   * Empties the state: with it, a state whose stream lost applied entries (Redis lost data) is
   * rebuilt from the stream as it is now; without it, it is not served until the service restarts.
   */
  reset?: () => void;
  snapshots: SnapshotSetting;
  /** What a snapshot of this state is: its kind in the key, its format, how it is written and read. */
  snapshot: Pick<RedisSnapshotsOptions, 'format' | 'capture' | 'restore'> & { kind: string };
  batchSize?: number;
  blockMs?: number;
  /** After a tail read that brought entries, how long to wait before the next (startProjection's lingerMs). */
  lingerMs?: number;
}

export interface StateProjection {
  projection: Projection;
  /** The commands connection, also usable for the service's own queries. */
  redis: Redis;
  close(): Promise<void>;
}

export function startStateProjection<Event>(options: StateProjectionOptions<Event>): StateProjection {
  const { redisUrl, log, name, stream, snapshot } = options;
  const redis = connectRedis(redisUrl, `${name}:commands`, log);
  const snapshots =
    options.snapshots === false
      ? undefined
      : redisSnapshots({
          redis,
          key: snapshotKey(stream, snapshot.kind, snapshot.format),
          format: snapshot.format,
          log,
          name,
          capture: snapshot.capture,
          restore: snapshot.restore,
          ...options.snapshots,
        });
  const projection = startProjection<Event>({
    name,
    streams: [stream],
    redis,
    tailRedis: connectRedis(redisUrl, `${name}:tail`, log),
    log,
    decode: (_stream, fields) => options.decode(fields),
    apply: (event, id) => options.apply(event, id),
    reset: options.reset,
    batchSize: options.batchSize,
    blockMs: options.blockMs,
    lingerMs: options.lingerMs,
    snapshots,
  });
  return {
    projection,
    redis,
    async close() {
      await projection.stop();
      await closeRedis(redis);
    },
  };
}
