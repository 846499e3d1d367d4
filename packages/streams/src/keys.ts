/** The engine's key names: a key's parts, and the keys kept beside a stream. */

/** Every key is its parts joined by ':', starting with a prefix. */
export function key(...parts: string[]): string {
  return parts.join(':');
}

/**
 * `<stream>:snapshot:<projection>:v<format>`: the snapshot a projection of `stream` keeps, one
 * key per snapshot format, so that two versions of the code running side by side (a rolling
 * update) each keep their own instead of discarding each other's.
 */
export function snapshotKey(stream: string, projection: string, format: number): string {
  return key(stream, 'snapshot', projection, `v${format}`);
}

/**
 * What decides a key's Redis Cluster slot: its hash tag (what the first `{...}` holds, when not
 * empty), else the whole key. Keys of one tag share a slot; a command over several keys must
 * name keys of one tag only (on a cluster, anything else is refused with CROSSSLOT).
 */
export function hashTagOf(key: string): string {
  const open = key.indexOf('{');
  const close = open < 0 ? -1 : key.indexOf('}', open + 1);
  return close > open + 1 ? key.slice(open + 1, close) : key;
}

/**
 * `<stream>:incarnation`, or `{<stream>}:incarnation` for a stream without a hash tag (so that it
 * shares the stream's slot: `microbank:accounts` -> `{microbank:accounts}:incarnation`): a random
 * value that lives and dies with the stream's data. A reader remembers it; when it has changed, the
 * stream was lost and written anew (Redis back on an empty volume), whatever was appended since.
 * It is read behind every read of the stream, on the same connection: on a cluster that is the
 * stream's node only when both keys are in one slot.
 */
export function incarnationKey(stream: string): string {
  return key(hashTagOf(stream) === stream ? `{${stream}}` : stream, 'incarnation');
}

/**
 * `{<hash tag>}:confirm`: the confirmation mark of `key`'s slot, written again before every WAIT
 * (confirmed-write.ts) so that the WAIT covers all the slot's primary holds. One small key per hash
 * tag; its value says nothing.
 */
export function confirmKey(key: string): string {
  return `{${hashTagOf(key)}}:confirm`;
}

/** `keys` by hash tag (on a cluster, one group per slot at most), each group in the order given. */
export function byHashTag<T>(items: readonly T[], keyOf: (item: T) => string): T[][] {
  const groups = new Map<string, T[]>();
  for (const item of items) {
    const tag = hashTagOf(keyOf(item));
    const group = groups.get(tag);
    if (group) group.push(item);
    else groups.set(tag, [item]);
  }
  return [...groups.values()];
}
