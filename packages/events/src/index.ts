/**
 * @microbank/events: the bank's events. The schema of every event on every stream (accounts,
 * ledgers, transfers, supply, parked, disruptions), the names of the bank's keys, the decoders'
 * fast paths, and the registry (the accounts projection). The machinery they run on is
 * @microbank/streams.
 */
export * from './account-events.ts';
export * from './accounts-projection.ts';
export * from './accounts-registry.ts';
export * from './disruption-events.ts';
export * from './entry-fast-path.ts';
export * from './ledger-events.ts';
export * from './ledger-fast-path.ts';
export * from './parked-events.ts';
export * from './stream-keys.ts';
export * from './supply-events.ts';
export * from './transfer-events.ts';
