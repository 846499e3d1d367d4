import { decodeEntry } from '@microbank/streams';
import { testSuite } from '@microbank/testing';
import * as assert from 'uvu/assert';
import { ledgerEvents } from './ledger-events.ts';
import { decodeLedgerEntry, decodeLedgerFast } from './ledger-fast-path.ts';

const fastPath = testSuite('ledger fast path');

const bytes = (fields: string[]) => fields.map((field) => Buffer.from(field, 'utf8'));
const entry = (type: string, data: string, v = '1') => ['type', type, 'v', v, 'data', data];
const TRANSFER = '3f2b8c1e-9a4d-4e7f-8b21-6c5d4e3f2a1b';
const debited = (fields: Record<string, unknown> = {}) =>
  entry('Debited', JSON.stringify({ transfer: TRANSFER, to: 'mary-account', amount: 25, ...fields }));
const credited = (fields: Record<string, unknown> = {}) =>
  entry(
    'Credited',
    JSON.stringify({ transfer: TRANSFER, from: 'john-account', amount: 25, debit: '1780000000001-0', ...fields }),
  );

/** Version 2, numbered, as the ledger scripts write them now. */
const debited2 = (fields: Record<string, unknown> = {}) =>
  entry('Debited', JSON.stringify({ transfer: TRANSFER, to: 'mary-account', amount: 25, seq: 7, ...fields }), '2');
const credited2 = (fields: Record<string, unknown> = {}) =>
  entry(
    'Credited',
    JSON.stringify({
      transfer: TRANSFER,
      from: 'john-account',
      amount: 25,
      debit: '1780000000001-0',
      seq: 7,
      ...fields,
    }),
    '2',
  );

/** Both decoders, on the same entry: the answer must not depend on the path taken. */
function assertSameAnswer(fields: string[], what = JSON.stringify(fields)): void {
  assert.equal(decodeLedgerEntry(bytes(fields)), decodeEntry(ledgerEvents, fields), what);
}

const usual = [
  debited(),
  debited({ amount: 1 }),
  debited({ amount: 1_000_000_000_000 }),
  debited({ to: 'a', transfer: 'ABCDEF01-2345-4789-AB01-23456789ABCD' }),
  debited({ transfer: '00000000-0000-0000-0000-000000000000' }),
  credited(),
  credited({ debit: '' }),
  credited({ debit: 'd'.repeat(41) }),
  credited({ debit: 'é/ü ✓ 1-0' }),
  credited({ from: 'account-99', amount: 999_999_999_999 }),
  debited2(),
  debited2({ seq: 1 }),
  debited2({ seq: Number.MAX_SAFE_INTEGER, amount: 1_000_000_000_000 }),
  credited2(),
  credited2({ debit: '', seq: 123_456_789_012 }),
  credited2({ debit: 'é/ü ✓ 1-0' }),
  credited2({ debit: 'd'.repeat(41), seq: Number.MAX_SAFE_INTEGER }),
];

fastPath('debits and credits as the ledger steps write them take the fast path, with the full decoder`s event', () => {
  for (const fields of usual) {
    const event = decodeLedgerFast(bytes(fields));
    assert.ok(event, `fast path for ${fields[5]}`);
    assert.equal({ ok: true, event }, decodeEntry(ledgerEvents, fields), fields[5]);
  }
});

const unusual: Array<[string, string[]]> = [
  ['an amount of 0', debited({ amount: 0 })],
  ['a negative amount', debited({ amount: -5 })],
  ['an amount over the maximum', debited({ amount: 1_000_000_000_001 })],
  ['an amount of 9,999,999,999,999', credited({ amount: 9_999_999_999_999 })],
  ['a fractional amount', debited({ amount: 2.5 })],
  ['an amount written 1.0', entry('Debited', debited()[5]?.replace('"amount":25', '"amount":1.0') ?? '')],
  ['an amount written 1e3', entry('Debited', debited()[5]?.replace('"amount":25', '"amount":1e3') ?? '')],
  ['an amount with a leading zero', entry('Debited', debited()[5]?.replace('"amount":25', '"amount":025') ?? '')],
  ['an amount as a string', debited({ amount: '25' })],
  ['a transfer that is not a UUID', debited({ transfer: 'not-a-uuid' })],
  ['a UUID of version 9', debited({ transfer: '3f2b8c1e-9a4d-9e7f-8b21-6c5d4e3f2a1b' })],
  ['a UUID with variant c', debited({ transfer: '3f2b8c1e-9a4d-4e7f-cb21-6c5d4e3f2a1b' })],
  ['an account of 64 characters', debited({ to: 'a'.repeat(64) })],
  ['an upper-case account', credited({ from: 'John' })],
  ['a debit of 42 characters', credited({ debit: 'd'.repeat(42) })],
  ['a debit with a quote', credited({ debit: 'say "hi"' })],
  ['a debit with a newline', credited({ debit: 'a\nb' })],
  ['a debit that is a number', credited({ debit: 7 })],
  ['an extra key', debited({ note: 'x' })],
  ['another key order', entry('Debited', JSON.stringify({ to: 'mary-account', transfer: TRANSFER, amount: 25 }))],
  ['a missing key', entry('Credited', JSON.stringify({ transfer: TRANSFER, from: 'john-account', amount: 25 }))],
  ['whitespace in the JSON', entry('Debited', debited()[5]?.replace(',', ', ') ?? '')],
  ['version 2', ['type', 'Debited', 'v', '2', 'data', debited()[5] ?? '']],
  ['fields in another order', ['v', '1', 'type', 'Debited', 'data', debited()[5] ?? '']],
  // One wrong name at a time, so that each of the layout's checks is needed on its own.
  ['another name for the type field', ['kind', 'Debited', 'v', '1', 'data', debited()[5] ?? '']],
  ['another name for the version field', ['type', 'Debited', 'ver', '1', 'data', debited()[5] ?? '']],
  ['another name for the data field', ['type', 'Debited', 'v', '1', 'body', debited()[5] ?? '']],
  ['a second data field after a good one', [...credited(), 'data', 'not JSON']],
  ['a Debited layout under the type Credited', entry('Credited', debited()[5] ?? '')],
  ['an AccountOpened', entry('AccountOpened', JSON.stringify({ account: 'john-account', amount: 100 }))],
  [
    'a DebitDeclined',
    entry(
      'DebitDeclined',
      JSON.stringify({ transfer: TRANSFER, to: 'mary-account', amount: 25, reason: 'insufficient-funds' }),
    ),
  ],
  ['no fields', []],
  ['a seq of 0', debited2({ seq: 0 })],
  ['a negative seq', credited2({ seq: -1 })],
  ['a seq over 2^53 - 1', debited2({ seq: Number.MAX_SAFE_INTEGER + 1 })],
  ['a Credited seq over 2^53 - 1', credited2({ seq: Number.MAX_SAFE_INTEGER + 1 })],
  // 16 digits: the pattern takes them, the bound does not.
  ['a seq of 16 nines', entry('Debited', debited2()[5]?.replace('"seq":7', `"seq":${'9'.repeat(16)}`) ?? '', '2')],
  [
    'a Credited seq of 16 nines',
    entry('Credited', credited2()[5]?.replace('"seq":7', `"seq":${'9'.repeat(16)}`) ?? '', '2'),
  ],
  ['a seq of 17 digits', credited2({ seq: 10 ** 16 })],
  ['a fractional seq', debited2({ seq: 1.5 })],
  ['a seq as a string', credited2({ seq: '7' })],
  ['a seq with a leading zero', entry('Debited', debited2()[5]?.replace('"seq":7', '"seq":07') ?? '', '2')],
  ['a version 2 without seq', entry('Debited', debited()[5] ?? '', '2')],
  ['a version 2 Credited without seq', entry('Credited', credited()[5] ?? '', '2')],
  ['a version 1 with a seq', entry('Debited', debited2()[5] ?? '')],
  ['a version 1 Credited with a seq', entry('Credited', credited2()[5] ?? '')],
  ['seq before amount', entry('Debited', JSON.stringify({ transfer: TRANSFER, to: 'a', seq: 7, amount: 25 }), '2')],
  ['an extra key after seq', debited2({ note: 'x' })],
  ['version 3', entry('Debited', debited2()[5] ?? '', '3')],
  ['an Issued', entry('Issued', JSON.stringify({ issuance: 'opening:a', amount: 5, seq: 2 }))],
  ['an AccountOpened v2', entry('AccountOpened', JSON.stringify({ account: 'john-account', seq: 1 }), '2')],
];

for (const [what, fields] of unusual) {
  fastPath(`the same answer for ${what}`, () => assertSameAnswer(fields, what));
}

fastPath('the same answer for every one-character change of a usual debit and credit', () => {
  const replacements = ['"', '\\', '\n', ' ', 'A', 'f', 'g', '0', '1', '9', '-', '.', ':', 'e', '{', '}', ',', 'é'];
  let compared = 0;
  for (const fields of [debited(), credited(), debited2(), credited2()]) {
    const [type, v, data] = [fields[1] as string, fields[3] as string, fields[5] as string];
    const entry = (type: string, data: string) => ['type', type, 'v', v, 'data', data];
    for (let at = 0; at <= data.length; at++) {
      assertSameAnswer(entry(type, data.slice(0, at) + data.slice(at + 1)), `deleting at ${at} of ${data}`);
      for (const c of replacements) {
        assertSameAnswer(entry(type, data.slice(0, at) + c + data.slice(at + 1)), `${JSON.stringify(c)} at ${at}`);
        assertSameAnswer(entry(type, data.slice(0, at) + c + data.slice(at)), `${JSON.stringify(c)} inserted at ${at}`);
        compared += 2;
      }
    }
  }
  assert.ok(compared > 10_000, `${compared} variants compared`);
});

fastPath('bytes that are not UTF-8 get the same answer as the string reply would', () => {
  for (const usualFields of [debited(), credited({ debit: 'ab' }), debited2(), credited2({ debit: 'ab' })]) {
    const fields = bytes(usualFields);
    const data = fields[5] as Buffer;
    const at = data.length - 4;
    fields[5] = Buffer.concat([data.subarray(0, at), Buffer.from([0xff]), data.subarray(at)]);
    assert.equal(
      decodeLedgerEntry(fields),
      decodeEntry(
        ledgerEvents,
        fields.map((field) => field.toString()),
      ),
    );
  }
});

fastPath.run();
