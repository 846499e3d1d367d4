/**
 * How an event is laid out as a stream entry, for every stream kind: three flat fields, readable
 * in redis-cli.
 *   type  the event type, e.g. AccountRegistered
 *   v     the schema version of `data`, e.g. 1
 *   data  the event's data as one JSON object
 * Few fields keep replay fast: the client decodes every field as its own value. A stream kind's
 * catalog lists the zod schema of each (type, version) it understands; decodeEntry is the one
 * decoder that judges an entry by them.
 */
import type * as z from 'zod';

/** An event as the code sees it: a discriminated union member. */
export interface CatalogEvent {
  type: string;
  data: unknown;
}

/** The events of one stream kind. `Event` is the union they decode to. */
export interface EventCatalog<Event extends CatalogEvent> {
  /** Names the stream kind in reasons, e.g. "accounts". */
  kind: string;
  /** An entry whose fields add up to more bytes than this is skipped without being parsed. */
  maxEntryBytes: number;
  /**
   * The schema of every (type, version) this code reads, and the version it writes. An older
   * version, once one exists, gets an upcaster next to its schema.
   */
  events: { [Type in Event['type']]: { current: number; versions: Record<number, z.ZodType> } };
}

/**
 * The catalog of a stream kind whose every event is at its first version: `schemas` names each
 * type's v1 schema. Once an event has a later version, its catalog is written out in full (as the
 * ledger's is), each version beside its schema.
 */
export function catalogAtV1<Event extends CatalogEvent>(
  stream: Pick<EventCatalog<Event>, 'kind' | 'maxEntryBytes'>,
  schemas: { [Type in Event['type']]: z.ZodType },
): EventCatalog<Event> {
  const events = {} as EventCatalog<Event>['events'];
  for (const type of Object.keys(schemas) as Array<Event['type']>) {
    events[type] = { current: 1, versions: { 1: schemas[type] } };
  }
  return { ...stream, events };
}

/** Why an entry was skipped, as a kind (for counting and for limiting logs) and a sentence. */
export type SkipKind =
  | 'too-large'
  | 'missing-field'
  | 'unknown-type'
  | 'bad-version'
  | 'future-version'
  | 'not-json'
  | 'invalid'
  | 'not-applicable';

export type DecodedEntry<Event> = { ok: true; event: Event } | { ok: false; kind: SkipKind; reason: string };

/** The field/value list for XADD. */
export function encodeEvent<Event extends CatalogEvent>(catalog: EventCatalog<Event>, event: Event): string[] {
  const version = catalog.events[event.type as Event['type']].current;
  return ['type', event.type, 'v', String(version), 'data', JSON.stringify(event.data)];
}

const skip = (kind: SkipKind, reason: string) => ({ ok: false, kind, reason }) as const;

/** Reads and validates one entry read as strings. Never throws: whatever is wrong becomes a reason. */
export function decodeEntry<Event extends CatalogEvent>(
  catalog: EventCatalog<Event>,
  fields: readonly string[],
): DecodedEntry<Event> {
  let type: string | undefined;
  let version: string | undefined;
  let data: string | undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = fields[i];
    if (name === 'type') type = fields[i + 1];
    else if (name === 'v') version = fields[i + 1];
    else if (name === 'data') data = fields[i + 1];
  }
  if (type === undefined) return skip('missing-field', 'missing field "type"');
  if (version === undefined) return skip('missing-field', 'missing field "v"');
  if (data === undefined) return skip('missing-field', 'missing field "data"');
  if (!Object.hasOwn(catalog.events, type)) {
    return skip('unknown-type', `unknown event type "${clip(type)}" on a ${catalog.kind} stream`);
  }
  const known = catalog.events[type as Event['type']];
  if (!/^[1-9]\d{0,5}$/.test(version)) return skip('bad-version', `bad schema version "${clip(version)}"`);
  const schema = known.versions[Number(version)];
  if (!schema) {
    return Number(version) > known.current
      ? skip('future-version', `future version ${version} of ${type} (this code reads up to ${known.current})`)
      : skip('bad-version', `unsupported version ${version} of ${type}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch {
    return skip('not-json', `field "data" is not JSON (${data.length} bytes)`);
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? issue.path.join('.') : 'data';
    return skip('invalid', `invalid ${type} v${version}: ${where}: ${issue?.message ?? 'invalid'}`);
  }
  return { ok: true, event: { type, data: parsed.data } as Event };
}

/** The bytes of an entry's fields, names and values together. */
export function entryBytes(fields: readonly Buffer[]): number {
  let bytes = 0;
  for (const field of fields) bytes += field.length;
  return bytes;
}

/**
 * decodeEntry for an entry read with buffer replies, as projections read: judged by its size
 * before anything is converted or parsed, so a huge entry costs a length check. Then a `fast`
 * path when given (an event, or undefined for "not mine"), then the schema.
 */
export function decodeEntryBuffers<Event extends CatalogEvent>(
  catalog: EventCatalog<Event>,
  fields: readonly Buffer[],
  fast?: (fields: readonly Buffer[]) => Event | undefined,
): DecodedEntry<Event> {
  const oversized = tooLarge(catalog, fields);
  if (oversized) return oversized;
  const event = fast?.(fields);
  if (event !== undefined) return { ok: true, event };
  return decodeEntry(
    catalog,
    fields.map((field) => field.toString('utf8')),
  );
}

/** The first field of a stub that stands for an entry left in Redis for its size (readCapped). */
export const OVERSIZED_FIELD = 'microbank-oversized';
const OVERSIZED = Buffer.from(OVERSIZED_FIELD);

/** The skip of an entry over the catalog's size limit (or a stub for one), or undefined. */
function tooLarge(catalog: EventCatalog<CatalogEvent>, fields: readonly Buffer[]) {
  const stub = fields.length === 2 && OVERSIZED.equals(fields[0] as Buffer);
  const bytes = stub ? Number(fields[1]?.toString('latin1')) : entryBytes(fields);
  if (bytes <= catalog.maxEntryBytes) return undefined;
  return skip(
    'too-large',
    `entry of ${bytes} bytes is over the ${catalog.maxEntryBytes}-byte limit of a ${catalog.kind} event`,
  );
}

/** Keeps hand-typed garbage from flooding a log line. */
function clip(value: string, max = 64): string {
  return value.length <= max ? value : `${value.slice(0, max)}…(${value.length} chars)`;
}
