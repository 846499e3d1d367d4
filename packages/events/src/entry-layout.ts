/**
 * How an event is laid out as a stream entry: three flat fields, readable in redis-cli.
 *   type  the event type, e.g. AccountRegistered
 *   v     the schema version of `data`, e.g. 1
 *   data  the event's data as one JSON object
 * Few fields keep replay fast: the client decodes every field as its own string.
 */
import { type AccountEvent, type AccountEventType, accountEventSchemas } from './account-events.ts';
import { decodeRegistrationFast } from './entry-fast-path.ts';

/** An entry as Redis returns it: the flat list `[field, value, field, value, ...]`. */
export type EntryFields = readonly string[];

export type DecodedEntry = { ok: true; event: AccountEvent } | { ok: false; reason: string };

/** The field/value list for XADD. */
export function encodeEvent(event: AccountEvent): string[] {
  const version = accountEventSchemas[event.type].current;
  return ['type', event.type, 'v', String(version), 'data', JSON.stringify(event.data)];
}

/** Reads and validates one entry. Never throws: whatever is wrong becomes a reason. */
export function decodeEntry(fields: EntryFields): DecodedEntry {
  let type: string | undefined;
  let version: string | undefined;
  let data: string | undefined;
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = fields[i];
    if (name === 'type') type = fields[i + 1];
    else if (name === 'v') version = fields[i + 1];
    else if (name === 'data') data = fields[i + 1];
  }
  if (type === undefined) return { ok: false, reason: 'missing field "type"' };
  if (version === undefined) return { ok: false, reason: 'missing field "v"' };
  if (data === undefined) return { ok: false, reason: 'missing field "data"' };
  if (!Object.hasOwn(accountEventSchemas, type)) return { ok: false, reason: `unknown event type "${clip(type)}"` };
  const known = accountEventSchemas[type as AccountEventType];
  if (!/^[1-9]\d{0,5}$/.test(version)) return { ok: false, reason: `bad schema version "${clip(version)}"` };
  const schema = known.versions[Number(version) as keyof typeof known.versions];
  if (!schema) {
    return Number(version) > known.current
      ? { ok: false, reason: `future version ${version} of ${type} (this code reads up to ${known.current})` }
      : { ok: false, reason: `unsupported version ${version} of ${type}` };
  }
  let json: unknown;
  try {
    json = JSON.parse(data);
  } catch {
    return { ok: false, reason: `field "data" is not JSON (${data.length} bytes)` };
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.length ? issue.path.join('.') : 'data';
    return { ok: false, reason: `invalid ${type} v${version}: ${where}: ${issue?.message ?? 'invalid'}` };
  }
  return { ok: true, event: { type: type as AccountEventType, data: parsed.data } };
}

/**
 * decodeEntry for an entry read with buffer replies (as projections read): the common entry takes
 * the fast path, any other the full decoder, with the same answer either way.
 */
export function decodeEntryBuffers(fields: readonly Buffer[]): DecodedEntry {
  const event = decodeRegistrationFast(fields);
  if (event !== undefined) return { ok: true, event };
  return decodeEntry(fields.map((field) => field.toString('utf8')));
}

/** Keeps hand-typed garbage from flooding a log line. */
function clip(value: string, max = 64): string {
  return value.length <= max ? value : `${value.slice(0, max)}…(${value.length} chars)`;
}
