/** Redis Stream IDs (`<ms>-<seq>`): validation and ordering without losing 64-bit precision. */

export type StreamId = string;

/** The ID before every entry: a projection that has applied nothing is here. */
export const STREAM_START: StreamId = '0-0';

const STREAM_ID = /^(0|[1-9]\d{0,19})-(0|[1-9]\d{0,19})$/;
const MAX_U64 = 18446744073709551615n;

/** True for a complete, canonical stream ID whose parts fit in 64 bits. */
export function isStreamId(value: string): boolean {
  const match = STREAM_ID.exec(value);
  if (!match) return false;
  return BigInt(match[1] as string) <= MAX_U64 && BigInt(match[2] as string) <= MAX_U64;
}

/** Orders two canonical stream IDs: negative when a < b, 0 when equal, positive when a > b. */
export function compareStreamIds(a: StreamId, b: StreamId): number {
  if (a === b) return 0;
  const dashA = a.indexOf('-');
  const dashB = b.indexOf('-');
  return compareDecimal(a.slice(0, dashA), b.slice(0, dashB)) || compareDecimal(a.slice(dashA + 1), b.slice(dashB + 1));
}

// Canonical decimals have no leading zeros, so the longer one is the larger.
function compareDecimal(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The millisecond part of an ID, for lag figures (precise enough for any real clock). */
export function streamIdMillis(id: StreamId): number {
  return Number(id.slice(0, id.indexOf('-')));
}
