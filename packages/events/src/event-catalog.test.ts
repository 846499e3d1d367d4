import { decodeEntry, encodeEvent } from '@microbank/streams';
import { testSuite } from '@microbank/testing';
import * as assert from 'uvu/assert';
import { type AccountRegistered, accountEvents, accountRegisteredV1 } from './account-events.ts';

const layout = testSuite('entry layout');

const john: AccountRegistered = {
  type: 'AccountRegistered',
  data: {
    account: 'john-account',
    url: 'http://127.0.0.1:8083',
    instance: 'laptop/4242',
    registeredAt: '2026-11-25T10:00:00.000Z',
  },
};
const johnData = JSON.stringify(john.data);

layout('an event is three flat fields: type, v and data as JSON', () => {
  assert.equal(encodeEvent(accountEvents, john), ['type', 'AccountRegistered', 'v', '1', 'data', johnData]);
});

layout('a catalog made by catalogAtV1 is the one written out, every event at version 1', () => {
  assert.equal(accountEvents, {
    kind: 'accounts',
    maxEntryBytes: 8 * 1024,
    events: { AccountRegistered: { current: 1, versions: { 1: accountRegisteredV1 } } },
  });
});

layout('what is encoded decodes to the same event', () => {
  assert.equal(decodeEntry(accountEvents, encodeEvent(accountEvents, john)), { ok: true, event: john });
});

layout('field order does not matter and extra fields are ignored', () => {
  const decoded = decodeEntry(accountEvents, [
    'data',
    johnData,
    'note',
    'typed by hand',
    'v',
    '1',
    'type',
    'AccountRegistered',
  ]);
  assert.equal(decoded, { ok: true, event: john });
});

const poison: Array<[string, string[], RegExp]> = [
  ['no type field', ['v', '1', 'data', johnData], /missing field "type"/],
  ['no version field', ['type', 'AccountRegistered', 'data', johnData], /missing field "v"/],
  ['no data field', ['type', 'AccountRegistered', 'v', '1'], /missing field "data"/],
  ['a lone field with no value', ['type'], /missing field "type"/],
  ['data that is not JSON', ['type', 'AccountRegistered', 'v', '1', 'data', '{not json'], /not JSON/],
  ['an unknown type', ['type', 'AccountClosed', 'v', '1', 'data', '{}'], /unknown event type "AccountClosed"/],
  ['a type named after an Object property', ['type', 'constructor', 'v', '1', 'data', '{}'], /unknown event type/],
  ['a future version', ['type', 'AccountRegistered', 'v', '2', 'data', johnData], /future version 2/],
  ['a version that is not a number', ['type', 'AccountRegistered', 'v', 'one', 'data', johnData], /bad schema version/],
  ['version zero', ['type', 'AccountRegistered', 'v', '0', 'data', johnData], /bad schema version/],
  ['data that is an array', ['type', 'AccountRegistered', 'v', '1', 'data', '[1,2]'], /invalid AccountRegistered v1/],
  [
    'an account name that is a number',
    ['type', 'AccountRegistered', 'v', '1', 'data', JSON.stringify({ ...john.data, account: 42 })],
    /account/,
  ],
  [
    'an account name that is not a DNS label',
    ['type', 'AccountRegistered', 'v', '1', 'data', JSON.stringify({ ...john.data, account: 'John Account' })],
    /account: must be a DNS label/,
  ],
  [
    'a url that is not http',
    ['type', 'AccountRegistered', 'v', '1', 'data', JSON.stringify({ ...john.data, url: 'ftp://x' })],
    /url/,
  ],
  [
    'a missing registeredAt',
    ['type', 'AccountRegistered', 'v', '1', 'data', JSON.stringify({ ...john.data, registeredAt: undefined })],
    /registeredAt/,
  ],
];

for (const [what, fields, reason] of poison) {
  layout(`skips an entry with ${what}`, () => {
    const decoded = decodeEntry(accountEvents, fields);
    assert.is(decoded.ok, false);
    if (!decoded.ok) assert.match(decoded.reason, reason);
  });
}

layout('a 1 MiB payload is refused with a short reason', () => {
  const huge = JSON.stringify({ ...john.data, account: 'x'.repeat(1024 * 1024) });
  const decoded = decodeEntry(accountEvents, ['type', 'AccountRegistered', 'v', '1', 'data', huge]);
  assert.is(decoded.ok, false);
  if (!decoded.ok) assert.ok(decoded.reason.length < 300, `reason is ${decoded.reason.length} chars`);
});

layout('a 1 MiB type name is clipped in the reason', () => {
  const decoded = decodeEntry(accountEvents, ['type', 'y'.repeat(1024 * 1024), 'v', '1', 'data', '{}']);
  assert.is(decoded.ok, false);
  if (!decoded.ok) assert.ok(decoded.reason.length < 300, `reason is ${decoded.reason.length} chars`);
});

layout.run();
