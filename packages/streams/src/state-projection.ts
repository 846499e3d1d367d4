/**
 * One state folded from one or more streams, as the registry, each ledger and the books are: a
 * commands connection, a tail connection, the projection runner, and signed snapshots in Redis
 * when the service asks. The one way the bank wires a projection that serves a state.
 */

import type { DecodedEntry } from './event-catalog.ts';
import { snapshotKey } from './keys.ts';
import type { Log } from './log.ts';
import { type Projection, startProjection } from './projection.ts';
import { type RedisSnapshotsOptions, redisSnapshots } from './projection-snapshots.ts';
import type { RedisClient } from './redis-connection.ts';
import { closeRedis, connectRedis, type RedisAt } from './redis-connection.ts';
import type { StreamId } from './stream-id.ts';

/**
 * Snapshots signed with `secret` (SNAPSHOT_KEY), from which a start resumes; or none (false):
 * every start replays the whole stream.
 */
export type SnapshotSetting = false | Pick<RedisSnapshotsOptions, 'secret' | 'everyEntries' | 'maxAgeMs'>;

export interface StateProjectionOptions<Event> {
  redisAt: RedisAt;
  log: Log;
  /** Names the projection and its connections, e.g. "account-system". */
  name: string;
  /**
   * The streams the state is folded from; the first is its primary stream, beside which its
   * snapshot is kept. `projection.follow` adds more.
   */
  streams: readonly string[];
  /** Reads one entry of `stream`; never throws. */
  decode: (fields: readonly Buffer[], stream: string) => DecodedEntry<Event>;
  /** Folds one event into the state. A throw skips the entry. */
  apply: (event: Event, id: StreamId, stream: string) => void;
  /**
   * Empties the state: with it, a state whose stream lost applied entries (Redis lost data) is
   * rebuilt from the stream as it is now; without it, it is not served until the service restarts.
   */
  reset?: () => void;
  snapshots: SnapshotSetting;
  /**
   * What a snapshot of this state is: its kind in the key, its format, how it is written and read.
   * Needed when `snapshots` is not false.
   */
  snapshot?: Pick<RedisSnapshotsOptions, 'format' | 'capture' | 'restore'> & { kind: string };
  batchSize?: number;
  blockMs?: number;
  /** After a tail read that brought entries, how long to wait before the next (startProjection's lingerMs). */
  lingerMs?: number;
  /** startProjection's beforeCatchUp: asked, and answered, before each catch-up reads anything. */
  beforeCatchUp?: (redis: RedisClient) => Promise<void>;
}

export interface StateProjection {
  projection: Projection;
  /** The commands connection, also usable for the service's own queries. */
  redis: RedisClient;
  close(): Promise<void>;
}

export function startStateProjection<Event>(options: StateProjectionOptions<Event>): StateProjection {
  const { redisAt, log, name, streams, snapshot } = options;
  const [primary] = streams;
  if (primary === undefined) throw new Error(`projection ${name} follows no stream`);
  if (options.snapshots !== false && snapshot === undefined) {
    throw new Error(`projection ${name} takes snapshots but does not say what one is`);
  }
  const redis = connectRedis(redisAt, `${name}:commands`, log);
  const snapshots =
    options.snapshots === false || snapshot === undefined
      ? undefined
      : redisSnapshots({
          redis,
          key: snapshotKey(primary, snapshot.kind, snapshot.format),
          format: snapshot.format,
          log,
          name,
          capture: snapshot.capture,
          restore: snapshot.restore,
          ...options.snapshots,
        });
  const { decode } = options;
  const projection = startProjection<Event>({
    name,
    streams,
    redis,
    tailRedis: connectRedis(redisAt, `${name}:tail`, log),
    log,
    decode: (stream, fields) => decode(fields, stream),
    apply: options.apply,
    reset: options.reset,
    beforeCatchUp: options.beforeCatchUp,
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
