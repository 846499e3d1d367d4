/**
 * What decoders' fast paths share (the bank's are @microbank/events' entry-fast-path.ts and
 * ledger-fast-path.ts): the entry's header checked as bytes, and pieces of patterns.
 */

/** One JSON string value's character as JSON.stringify writes it when nothing needed escaping. */
export const PLAIN = String.raw`[^"\\\u0000-\u001f]`;

/** A pattern's source without its anchors, its groups made non-capturing: to embed it in a larger one. */
export function embeddable(pattern: RegExp): string {
  return pattern.source.replace(/^\^|\$$/g, '').replaceAll(/\((?!\?)/g, '(?:');
}

/**
 * A string of its own, for a fold that keeps one of a decoded event's strings beyond the entry:
 * the fast paths hand out slices of the entry's text (V8 keeps a slice of 13 characters or more
 * as a view of its parent, so a kept slice would keep the whole text alive). Copying only what is
 * kept costs a replay far less than copying every string of every entry (each copy out of the
 * bytes is a call into C++). A JSON round trip copies any string exactly, lone surrogates included.
 */
export function ownCopy(text: string): string {
  return JSON.parse(JSON.stringify(text)) as string;
}

export const ascii = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));
const TYPE = ascii('type');
const V = ascii('v');
const DATA = ascii('data');
const VERSIONS = { 1: ascii('1'), 2: ascii('2') };

/** Byte equality without a call into C++: these are a few bytes long. */
function sameBytes(bytes: Uint8Array, expected: Uint8Array): boolean {
  const length = expected.length;
  if (bytes.length !== length) return false;
  for (let i = 0; i < length; i++) if (bytes[i] !== expected[i]) return false;
  return true;
}

/**
 * The version (1 or 2) of an entry laid out exactly as encodeEvent writes an event of that version
 * (`type <type> v <version> data <data>`: its type in field 1, its data in field 5); undefined for
 * any other layout. Checked once per entry, whatever types a decoder then tells apart (isType).
 */
export function layoutVersion(fields: readonly Buffer[]): 1 | 2 | undefined {
  if (fields.length !== 6) return undefined;
  if (
    !sameBytes(fields[0] as Buffer, TYPE) ||
    !sameBytes(fields[2] as Buffer, V) ||
    !sameBytes(fields[4] as Buffer, DATA)
  ) {
    return undefined;
  }
  const version = fields[3] as Buffer;
  if (sameBytes(version, VERSIONS[2])) return 2;
  return sameBytes(version, VERSIONS[1]) ? 1 : undefined;
}

/**
 * Whether an entry of encodeEvent's six fields is of `type` (its field 1); false when it has another
 * number of fields. The rest of the layout is layoutVersion's to check, first.
 */
export function isType(fields: readonly Buffer[], type: Uint8Array): boolean {
  return fields.length === 6 && sameBytes(fields[1] as Buffer, type);
}

/**
 * The data field's bytes when the entry is exactly `type <type> v <version> data <data>`, as
 * encodeEvent writes an event of that version (1 or 2); undefined for any other layout.
 */
export function dataOfType(fields: readonly Buffer[], type: Uint8Array, version: 1 | 2 = 1): Buffer | undefined {
  return layoutVersion(fields) === version && isType(fields, type) ? (fields[5] as Buffer) : undefined;
}
