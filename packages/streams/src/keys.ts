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
 * `<stream>:incarnation`: a random value that lives and dies with the stream's data. A
 * reader remembers it; when it has changed, the stream was lost and written anew (Redis back on
 * an empty volume), whatever was appended since. It shares the stream's hash tag, if any.
 */
export function incarnationKey(stream: string): string {
  return key(stream, 'incarnation');
}
