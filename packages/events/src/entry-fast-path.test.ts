import { decodeEntry } from '@microbank/streams';
import { testSuite } from '@microbank/testing';
import * as assert from 'uvu/assert';
import { accountEvents } from './account-events.ts';
import { decodeAccountEntry, decodeRegistrationFast } from './entry-fast-path.ts';

const fastPath = testSuite('entry fast path');

const bytes = (fields: string[]) => fields.map((field) => Buffer.from(field, 'utf8'));
const entry = (data: string) => ['type', 'AccountRegistered', 'v', '1', 'data', data];
const dataOf = (fields: Partial<Record<'account' | 'url' | 'instance' | 'registeredAt', unknown>>) =>
  JSON.stringify({
    account: 'john-account',
    url: 'http://127.0.0.1:8083',
    instance: 'laptop/4242',
    registeredAt: '2026-11-25T10:00:00.000Z',
    ...fields,
  });

/** Both decoders, on the same entry: the answer must not depend on the path taken. */
function assertSameAnswer(fields: string[], what = JSON.stringify(fields)): void {
  assert.equal(decodeAccountEntry(bytes(fields)), decodeEntry(accountEvents, fields), what);
}

const usual = [
  dataOf({}),
  dataOf({ url: 'http://microbank-john-account' }),
  dataOf({ url: 'https://john.bank.example:8443/api/v1' }),
  dataOf({ url: 'http://10.0.12.255:65535/' }),
  dataOf({ instance: 'microbank-john-account-5d9f8c7b6-x2x9z' }),
  dataOf({ registeredAt: '2026-04-30T23:59:59Z' }),
  dataOf({ registeredAt: '2026-12-31T00:00:00.123456+05:30' }),
  dataOf({ account: 'a', instance: 'é/ü ✓' }),
];

fastPath('entries as accounts write them take the fast path, with the full decoder`s event', () => {
  for (const data of usual) {
    const event = decodeRegistrationFast(bytes(entry(data)));
    assert.ok(event, `fast path for ${data}`);
    assert.equal({ ok: true, event }, decodeEntry(accountEvents, entry(data)), data);
  }
});

const unusual: Array<[string, string[]]> = [
  ['February 29th of a leap year', entry(dataOf({ registeredAt: '2024-02-29T10:00:00Z' }))],
  ['February 29th of another year', entry(dataOf({ registeredAt: '2025-02-29T10:00:00Z' }))],
  ['February 30th', entry(dataOf({ registeredAt: '2026-02-30T10:00:00Z' }))],
  ['April 31st', entry(dataOf({ registeredAt: '2026-04-31T10:00:00Z' }))],
  ['a time without seconds', entry(dataOf({ registeredAt: '2026-04-01T10:00Z' }))],
  ['a time without an offset', entry(dataOf({ registeredAt: '2026-04-01T10:00:00' }))],
  ['hour 24', entry(dataOf({ registeredAt: '2026-04-01T24:00:00Z' }))],
  ['an upper-case host', entry(dataOf({ url: 'http://John.example' }))],
  ['a host ending in a number', entry(dataOf({ url: 'http://a.1' }))],
  ['a host ending in a big number', entry(dataOf({ url: 'http://a.99999999999' }))],
  ['an IPv4 octet over 255', entry(dataOf({ url: 'http://1.2.3.256' }))],
  ['a port over 65535', entry(dataOf({ url: 'http://john:65536' }))],
  ['a port with a leading zero', entry(dataOf({ url: 'http://john:08083' }))],
  ['a punycode label', entry(dataOf({ url: 'http://xn--nxasmq6b.example' }))],
  ['a bad punycode label', entry(dataOf({ url: 'http://xn--.example' }))],
  ['a URL without //', entry(dataOf({ url: 'http:john' }))],
  ['an ftp URL', entry(dataOf({ url: 'ftp://john' }))],
  ['a URL with spaces around', entry(dataOf({ url: ' http://john ' }))],
  ['a URL with a tab inside', entry(dataOf({ url: 'http://jo\thn' }))],
  ['a URL with a query', entry(dataOf({ url: 'http://john/?a=1#x' }))],
  ['a URL with user info', entry(dataOf({ url: 'http://me:secret@john' }))],
  ['a URL of 2048 characters', entry(dataOf({ url: `http://john/${'p'.repeat(2036)}` }))],
  ['a URL of 2049 characters', entry(dataOf({ url: `http://john/${'p'.repeat(2037)}` }))],
  ['an instance of 253 characters', entry(dataOf({ instance: 'i'.repeat(253) }))],
  ['an instance of 254 characters', entry(dataOf({ instance: 'i'.repeat(254) }))],
  ['an empty instance', entry(dataOf({ instance: '' }))],
  ['an instance with a quote', entry(dataOf({ instance: 'say "hi"' }))],
  ['an instance with a newline', entry(dataOf({ instance: 'a\nb' }))],
  ['an account of 63 characters', entry(dataOf({ account: 'a'.repeat(63) }))],
  ['an account of 64 characters', entry(dataOf({ account: 'a'.repeat(64) }))],
  ['an account ending in -', entry(dataOf({ account: 'john-' }))],
  ['an account that is a number', entry(dataOf({ account: 7 }))],
  ['an extra key', entry(JSON.stringify({ ...JSON.parse(dataOf({})), note: 'x' }))],
  [
    'another key order',
    entry(JSON.stringify({ url: 'http://john', account: 'john', instance: 'i', registeredAt: '2026-01-01T00:00:00Z' })),
  ],
  ['an escaped key', entry(dataOf({}).replace('"account"', '"\\u0061ccount"'))],
  ['whitespace in the JSON', entry(dataOf({}).replace(',', ', '))],
  ['JSON with a trailing comma', entry(dataOf({}).replace('}', ',}'))],
  ['fields in another order', ['v', '1', 'type', 'AccountRegistered', 'data', dataOf({})]],
  ['an extra field', [...entry(dataOf({})), 'note', 'x']],
  // One wrong name at a time, so that each of the layout's checks is needed on its own.
  ['another name for the type field', ['kind', 'AccountRegistered', 'v', '1', 'data', dataOf({})]],
  ['another name for the version field', ['type', 'AccountRegistered', 'ver', '1', 'data', dataOf({})]],
  ['another name for the data field', ['type', 'AccountRegistered', 'v', '1', 'body', dataOf({})]],
  ['a second data field after a good one', [...entry(dataOf({})), 'data', 'not JSON']],
  ['version 2', ['type', 'AccountRegistered', 'v', '2', 'data', dataOf({})]],
  ['version 01', ['type', 'AccountRegistered', 'v', '01', 'data', dataOf({})]],
  ['another type', ['type', 'AccountClosed', 'v', '1', 'data', dataOf({})]],
  ['no fields', []],
];

for (const [what, fields] of unusual) {
  fastPath(`the same answer for ${what}`, () => assertSameAnswer(fields, what));
}

fastPath('the same answer for every one-character change of a usual entry', () => {
  const replacements = [
    '"',
    '\\',
    '\n',
    '\t',
    ' ',
    'A',
    'z',
    '0',
    '9',
    '-',
    '.',
    ':',
    '/',
    '{',
    '}',
    ',',
    'é',
    '\u2028',
  ];
  let compared = 0;
  for (const data of usual.slice(0, 3)) {
    for (let at = 0; at <= data.length; at++) {
      assertSameAnswer(entry(data.slice(0, at) + data.slice(at + 1)), `deleting at ${at} of ${data}`);
      for (const c of replacements) {
        assertSameAnswer(entry(data.slice(0, at) + c + data.slice(at + 1)), `${JSON.stringify(c)} at ${at}`);
        assertSameAnswer(entry(data.slice(0, at) + c + data.slice(at)), `${JSON.stringify(c)} inserted at ${at}`);
        compared += 2;
      }
    }
  }
  assert.ok(compared > 5_000, `${compared} variants compared`);
});

fastPath('bytes that are not UTF-8 get the same answer as the string reply would', () => {
  const fields = bytes(entry(dataOf({})));
  const data = fields[5] as Buffer;
  const broken = Buffer.concat([data.subarray(0, 40), Buffer.from([0xff, 0xfe]), data.subarray(40)]);
  fields[5] = broken;
  assert.equal(
    decodeAccountEntry(fields),
    decodeEntry(
      accountEvents,
      fields.map((field) => field.toString()),
    ),
  );
});

fastPath.run();
