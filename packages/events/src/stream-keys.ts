/**
 * The names of the bank's Redis keys; they and the engine's keys.ts are the only places that build
 * a key string.
 */
import { key } from '@microbank/streams';

/** Prefix of every key microbank owns. Tests pass their own prefix to stay out of each other's way. */
export const KEY_PREFIX = 'microbank';

/** The aggregate kinds that have one stream for all (a ledger is one stream per account: ledgerKey). */
export type AggregateKind = 'accounts' | 'disruptions';

/** `microbank:accounts`: the stream of every event about accounts. */
export function streamKey(kind: AggregateKind, prefix: string = KEY_PREFIX): string {
  return key(prefix, kind);
}

/**
 * `microbank:presence:{john-account}`: who runs an account right now, a sorted set of its live
 * instances scored by when each one's presence expires. Presence, not history: it is refreshed by
 * the live processes and never replayed.
 */
export function presenceKey(account: string, prefix: string = KEY_PREFIX): string {
  return key(prefix, 'presence', `{${account}}`);
}

/**
 * `microbank:ledger:{john-account}`: an account's ledger stream. The braces are a Redis Cluster
 * hash tag: every key of one account (ledgerStateKey, ledgerStepsKey, the incarnation marker)
 * lands in one slot, so a Lua script may touch them together; no key of two accounts ever does.
 */
export function ledgerKey(account: string, prefix: string = KEY_PREFIX): string {
  return key(prefix, 'ledger', `{${account}}`);
}

/** `microbank:ledger:{john-account}:state`: the hash the ledger scripts keep (opened, balance). */
export function ledgerStateKey(account: string, prefix: string = KEY_PREFIX): string {
  return key(ledgerKey(account, prefix), 'state');
}

/**
 * `microbank:ledger:{john-account}:steps`: every transfer step this ledger has seen and its
 * outcome (`debit:<transfer>` -> `debited <entry ID>`, ...), kept forever: a step tried again
 * returns its first outcome.
 */
export function ledgerStepsKey(account: string, prefix: string = KEY_PREFIX): string {
  return key(ledgerKey(account, prefix), 'steps');
}

/**
 * The field of a ledger's steps hash (ledgerStepsKey) that holds its compaction point: a
 * transfers-stream position before which the steps of settled transfers were removed and any
 * step is refused (ledger-checks.lua, packages/transfer's compaction.ts).
 */
export const COMPACTED_BEFORE = 'compacted-before';

/** `microbank:{transfers}`: the transfers stream, the saga's log; its hash tag is shared by the keys below. */
export function transfersKey(prefix: string = KEY_PREFIX): string {
  return key(prefix, '{transfers}');
}

/** The consumer group of the transfers stream whose consumers are the transfer processors. */
export const PROCESSORS_GROUP = 'processors';

/**
 * `microbank:{transfers}:processors`: which transfer processors are alive right now, presence as an
 * account's (presenceKey) but in the transfers' slot and apart from every account's key.
 */
export function processorsPresenceKey(prefix: string = KEY_PREFIX): string {
  return key(prefix, '{transfers}', 'processors');
}

/**
 * `microbank:{transfers}:key:<client>/<Idempotency-Key>`: the transfer a client's key made and the
 * request's fingerprint, `<transfer> <fingerprint>`. Keys are scoped to the client that sent them
 * (two clients' keys never meet) and expire after the retention (what a client sees may expire;
 * what keeps money from moving twice does not: that is the ledgers' steps).
 */
export function idempotencyKey(clientKey: string, prefix: string = KEY_PREFIX): string {
  return key(transfersKey(prefix), 'key', clientKey);
}

/**
 * `microbank:{transfers}:parked`: the parked stream, in the transfers' slot (its hash tag), so that
 * parking an entry and acknowledging it are one script (parked-events.ts).
 */
export function parkedKey(prefix: string = KEY_PREFIX): string {
  return key(transfersKey(prefix), 'parked');
}

/**
 * `microbank:{transfers}:compaction`: the last compaction's point (`before`, a transfers-stream
 * ID), the audit's checkpoint it was verified against, and when (packages/transfer's compaction.ts).
 */
export function compactionKey(prefix: string = KEY_PREFIX): string {
  return key(transfersKey(prefix), 'compaction');
}

/** `microbank:{transfers}:compaction:lock`: held by the one compaction running (it expires). */
export function compactionLockKey(prefix: string = KEY_PREFIX): string {
  return key(compactionKey(prefix), 'lock');
}

/**
 * `microbank:{transfers}:status:<transfer>`: a transfer's status as JSON (what GET /transfers/:id
 * answers); kept while pending, then for the retention after it settled.
 */
export function transferStatusKey(transfer: string, prefix: string = KEY_PREFIX): string {
  return key(transfersKey(prefix), 'status', transfer);
}

/**
 * `microbank:{supply}`: the money supply's stream, what the bank issued (SupplyIssued); its hash
 * tag is shared by supplyIssuancesKey.
 */
export function supplyKey(prefix: string = KEY_PREFIX): string {
  return key(prefix, '{supply}');
}

/**
 * `microbank:{supply}:issuances`: issuance ID -> what it issued (`<account> <amount> <entry ID>`),
 * kept forever: an issuance is recorded once and never changed.
 */
export function supplyIssuancesKey(prefix: string = KEY_PREFIX): string {
  return key(supplyKey(prefix), 'issuances');
}
