/**
 * Decoding a ledger stream's entries as projections read them (buffer replies), with a fast path
 * for the two entries every transfer writes: Debited v1 and Credited v1 laid out exactly as the
 * ledger steps write them (encodeEvent, JSON.stringify of the data in its key order) are checked by
 * one regular expression each instead of JSON.parse plus zod, which was 85% of a ledger replay's
 * decoding. The patterns are built from the schemas' own facts (the account name's pattern, zod's
 * UUID pattern, the amount's bounds) and accept only data that the zod schema accepts and returns
 * unchanged; any other entry (another layout, escapes, an amount written 1e3 or 1.0, other event
 * types) goes through decodeEntryBuffers, the source of truth. ledger-fast-path.test.ts holds the
 * two paths to the same answers.
 */
import type { DecodedEntry } from './event-catalog.ts';
import { decodeEntryBuffers } from './event-catalog.ts';
import { ACCOUNT, ascii, dataOfType, embeddable, PLAIN } from './fast-path-parts.ts';
import { DEBIT_MAX_LENGTH, type LedgerEvent, ledgerEvents, MAX_AMOUNT, transferId } from './ledger-events.ts';

const UUID = embeddable(transferId._zod.def.pattern as RegExp);

/** A whole number from 1 to MAX_AMOUNT as JSON.stringify writes it (no sign, no leading zero, no exponent). */
const AMOUNT_DIGITS = String(MAX_AMOUNT).length;
const AMOUNT = `[1-9]\\d{0,${AMOUNT_DIGITS - 1}}`;

const DEBITED_V1_DATA = new RegExp(`^\\{"transfer":"${UUID}","to":"(${ACCOUNT})","amount":(${AMOUNT})\\}$`);
const CREDITED_V1_DATA = new RegExp(
  `^\\{"transfer":"${UUID}","from":"(${ACCOUNT})","amount":(${AMOUNT}),"debit":"(${PLAIN}{0,${DEBIT_MAX_LENGTH}})"\\}$`,
);

const DEBITED = ascii('Debited');
const CREDITED = ascii('Credited');

/** Where the transfer ID sits in both layouts, and where the account name starts after it. */
const TRANSFER_AT = '{"transfer":"'.length;
const TRANSFER_END = TRANSFER_AT + 36;
const TO_AT = TRANSFER_END + '","to":"'.length;
const FROM_AT = TRANSFER_END + '","from":"'.length;

/** The event when the entry is a Debited v1 or Credited v1 in the steps' exact layout; else undefined. */
export function decodeLedgerFast(fields: readonly Buffer[]): LedgerEvent | undefined {
  const debited = dataOfType(fields, DEBITED);
  if (debited !== undefined) {
    const match = DEBITED_V1_DATA.exec(debited.toString('utf8'));
    if (match === null) return undefined;
    const [, to, amount] = match as unknown as [string, string, string];
    if (Number(amount) > MAX_AMOUNT) return undefined;
    // Copied from the bytes (ASCII by their patterns): slices of the matched text would keep it alive.
    const transfer = debited.toString('latin1', TRANSFER_AT, TRANSFER_END);
    const account = debited.toString('latin1', TO_AT, TO_AT + to.length);
    return { type: 'Debited', data: { transfer, to: account, amount: Number(amount) } };
  }
  const credited = dataOfType(fields, CREDITED);
  if (credited === undefined) return undefined;
  const match = CREDITED_V1_DATA.exec(credited.toString('utf8'));
  if (match === null) return undefined;
  const [, from, amount] = match as unknown as [string, string, string];
  if (Number(amount) > MAX_AMOUNT) return undefined;
  const transfer = credited.toString('latin1', TRANSFER_AT, TRANSFER_END);
  const account = credited.toString('latin1', FROM_AT, FROM_AT + from.length);
  // The debit's bytes run from after everything before it (ASCII: as many bytes as characters) to the closing `"}`.
  const debitAt = FROM_AT + from.length + '","amount":'.length + amount.length + ',"debit":"'.length;
  const debit = credited.toString('utf8', debitAt, credited.length - 2);
  return { type: 'Credited', data: { transfer, from: account, amount: Number(amount), debit } };
}

/** A ledger stream entry, read with buffer replies: size first, then the fast path, then the full decoder. */
export function decodeLedgerEntry(fields: readonly Buffer[]): DecodedEntry<LedgerEvent> {
  return decodeEntryBuffers(ledgerEvents, fields, decodeLedgerFast);
}
