/** What POST /transfers takes: the body's schema and the Idempotency-Key header's. */
import { accountName, amount } from '@microbank/events';
import * as z from 'zod';

/** Exactly these fields: an unknown one is refused, not ignored (a typo must not move money). */
export const transferBody = z.strictObject({ from: accountName, to: accountName, amount });

/**
 * An Idempotency-Key: 1-255 characters of letters, digits and `-_.:~+/=` (a UUID, a ULID, a
 * random token), as it is or as a structured-field string in double quotes (the IETF draft's form).
 */
const KEY = /^[A-Za-z0-9_.:~+/=-]{1,255}$/;

export function parseIdempotencyKey(header: string | undefined): { key: string } | { problem: string } {
  if (header === undefined) return { problem: 'an Idempotency-Key header is required (a UUID, say)' };
  const unquoted = header.length >= 2 && header.startsWith('"') && header.endsWith('"') ? header.slice(1, -1) : header;
  if (!KEY.test(unquoted)) {
    return { problem: 'the Idempotency-Key must be 1-255 characters of letters, digits and -_.:~+/=' };
  }
  return { key: unquoted };
}
