/** @microbank/events: event contracts, stream layout, event store and projections on Redis Streams. */
export * from './account-events.ts';
export * from './accounts-projection.ts';
export * from './accounts-registry.ts';
export * from './deadline.ts';
export * from './entry-fast-path.ts';
export * from './errors.ts';
export * from './event-catalog.ts';
export * from './event-store.ts';
export { type Log, silentLog } from './log.ts';
export * from './presence.ts';
export * from './projection.ts';
export * from './projection-snapshots.ts';
export * from './redis-connection.ts';
export * from './redis-errors.ts';
export * from './retry.ts';
export * from './stream-id.ts';
export * from './stream-keys.ts';
