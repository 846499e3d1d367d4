/** The one place that builds Redis key names; nothing else assembles a key string. */

/** Prefix of every key microbank owns. Tests pass their own prefix to stay out of each other's way. */
export const KEY_PREFIX = 'microbank';

/** The aggregate kinds that have a stream. One stream per kind. */
export type AggregateKind = 'accounts';

/** `microbank:accounts`: the stream of every event about accounts. */
export function streamKey(kind: AggregateKind, prefix: string = KEY_PREFIX): string {
  return `${prefix}:${kind}`;
}
