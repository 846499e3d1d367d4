/**
 * Decoding the accounts stream's entries as projections read them (buffer replies), with a fast
 * path: an AccountRegistered v1 entry laid out exactly as encodeEvent writes it is checked by one
 * regular expression instead of JSON.parse plus zod (zod was most of a replay's CPU). The pattern
 * is built from the schema module's own facts and accepts only strings that the zod schema
 * accepts and returns unchanged; anything else (another layout, escapes, extra keys, a February
 * 29th, an unusual URL) goes through decodeEntry, the source of truth, so what a projection
 * applies or skips does not depend on which path took the entry. entry-fast-path.test.ts holds
 * the two paths to the same answers.
 */

import { ascii, type DecodedEntry, dataOfType, decodeEntryBuffers, PLAIN } from '@microbank/streams';
import {
  ACCOUNT,
  type AccountEvent,
  type AccountRegistered,
  accountEvents,
  INSTANCE_MAX_LENGTH,
  SERVICE_URL_MAX_LENGTH,
} from './account-events.ts';

/**
 * URLs that the WHATWG parser takes as they are: lower-case DNS names whose last label starts with
 * a letter (a last label of digits would be parsed as an IPv4 number), or a dotted quad; a port
 * within 0-65535; a plain path. No "--" anywhere in the host, so no punycode label to verify.
 */
const LABEL = '[a-z0-9]+(?:-[a-z0-9]+)*';
const OCTET = String.raw`(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)`;
const HOST = String.raw`(?:(?:${LABEL}\.)*[a-z][a-z0-9]*(?:-[a-z0-9]+)*|${OCTET}(?:\.${OCTET}){3})`;
const PORT = String.raw`(?::(?:6553[0-5]|655[0-2]\d|65[0-4]\d\d|6[0-4]\d{3}|[1-5]\d{4}|[1-9]\d{0,3}|0))?`;
const SERVICE_URL = `https?://${HOST}${PORT}(?:/[A-Za-z0-9._~/-]*)?`;
const USUAL_SERVICE_URL = new RegExp(`^${SERVICE_URL}$`);

/**
 * True for a URL that the schema's serviceUrl accepts, found by the fast path's pattern alone;
 * false says nothing (ask the schema).
 */
export function isUsualServiceUrl(url: string): boolean {
  return url.length <= SERVICE_URL_MAX_LENGTH && USUAL_SERVICE_URL.test(url);
}

/**
 * zod's ISO datetime with an offset, less February 29th (left to zod, which knows leap years):
 * days 1-28 of any month, 29-30 of every month but February, 31 of the long months.
 */
const DATE = String.raw`\d{4}-(?:(?:0[1-9]|1[0-2])-(?:0[1-9]|1\d|2[0-8])|(?:0[13-9]|1[0-2])-(?:29|30)|(?:0[13578]|1[02])-31)`;
const TIME = String.raw`(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d+)?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)`;

const REGISTERED_V1_DATA = new RegExp(
  `^\\{"account":"(${ACCOUNT})","url":"(${SERVICE_URL})","instance":"(${PLAIN}{1,${INSTANCE_MAX_LENGTH}})","registeredAt":"(${DATE}T${TIME})"\\}$`,
);

const REGISTERED = ascii('AccountRegistered');

/**
 * The event when the entry is an AccountRegistered v1 in encodeEvent's exact layout; else
 * undefined. Its strings are slices of the entry's text: a fold that keeps one copies it
 * (ownCopy), as the registry does.
 */
export function decodeRegistrationFast(fields: readonly Buffer[]): AccountRegistered | undefined {
  const data = dataOfType(fields, REGISTERED);
  if (data === undefined) return undefined;
  const match = REGISTERED_V1_DATA.exec(data.toString('utf8'));
  if (match === null) return undefined;
  // Read by index, not destructured: see decodeLedgerFast.
  const url = match[2] as string;
  if (url.length > SERVICE_URL_MAX_LENGTH) return undefined;
  return {
    type: 'AccountRegistered',
    data: { account: match[1] as string, url, instance: match[3] as string, registeredAt: match[4] as string },
  };
}

/** An accounts stream entry, read with buffer replies: size first, then the fast path, then the full decoder. */
export function decodeAccountEntry(fields: readonly Buffer[]): DecodedEntry<AccountEvent> {
  return decodeEntryBuffers(accountEvents, fields, decodeRegistrationFast);
}
