/** The one place that builds Redis key names; nothing else assembles a key string. */

/** Prefix of every key microbank owns. Tests pass their own prefix to stay out of each other's way. */
export const KEY_PREFIX = 'microbank';

/** The aggregate kinds that have a stream. One stream per kind. */
export type AggregateKind = 'accounts';

/** Every key is its parts joined by ':', starting with a prefix. */
function key(...parts: string[]): string {
  return parts.join(':');
}

/** `microbank:accounts`: the stream of every event about accounts. */
export function streamKey(kind: AggregateKind, prefix: string = KEY_PREFIX): string {
  return key(prefix, kind);
}

/**
 * `microbank:accounts:snapshot:registry:v1`: the snapshot a projection of `stream` keeps, one key
 * per snapshot format, so that two versions of the code running side by side (a rolling update)
 * each keep their own instead of discarding each other's.
 */
export function snapshotKey(stream: string, projection: string, format: number): string {
  return key(stream, 'snapshot', projection, `v${format}`);
}

/**
 * `microbank:accounts:incarnation`: a random value that lives and dies with the stream's data. A
 * reader remembers it; when it has changed, the stream was lost and written anew (Redis back on
 * an empty volume), whatever was appended since. It shares the stream's hash tag, if any.
 */
export function incarnationKey(stream: string): string {
  return key(stream, 'incarnation');
}

/**
 * `microbank:presence:{john-account}`: who runs an account right now, a sorted set of its live
 * instances scored by when each one's presence expires. Presence, not history: it is refreshed by
 * the live processes and never replayed.
 */
export function presenceKey(account: string, prefix: string = KEY_PREFIX): string {
  return key(prefix, 'presence', `{${account}}`);
}
