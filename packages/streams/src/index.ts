/**
 * @microbank/streams: event sourcing on Redis Streams, knowing nothing of the bank. Event catalogs
 * and their decoder, the event store, projections (replay, tail, snapshots, continuity), consumer
 * groups, presence, and the Redis connection with its retries.
 */
export * from './cluster-nodes.ts';
export * from './confirmed-write.ts';
export * from './consumer-worker.ts';
export * from './deadline.ts';
export * from './errors.ts';
export * from './event-catalog.ts';
export * from './event-store.ts';
export * from './fast-path-parts.ts';
export * from './keys.ts';
export { type Log, silentLog } from './log.ts';
export * from './lua-scripts.ts';
export * from './presence.ts';
export * from './presence-keeper.ts';
export * from './projection.ts';
export * from './projection-snapshots.ts';
export * from './redis-connection.ts';
export * from './redis-errors.ts';
export * from './redis-memory.ts';
export * from './retry.ts';
export { SKIPS_LOGGED_PER_KIND } from './skip-log.ts';
export * from './state-projection.ts';
export * from './stream-id.ts';
