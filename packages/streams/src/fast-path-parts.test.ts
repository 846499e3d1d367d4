/**
 * The layout an entry's fast path reads (layoutVersion, isType), and ownCopy: the same text, and
 * none of the entry it was sliced from kept alive. A fast path's strings are slices of the entry's
 * text, and V8 keeps a slice of 13 characters or more as a view of its parent: a fold that kept the
 * slice would keep every entry's whole text.
 */
import { collectGarbage, testSuite } from '@microbank/testing';
import * as assert from 'uvu/assert';
import { ascii, isType, layoutVersion, ownCopy } from './fast-path-parts.ts';

const layout = testSuite('an entry`s layout');

layout('the version of an entry exactly as encodeEvent writes it, and nothing for any other layout', () => {
  const fields = (...texts: string[]) => texts.map((text) => Buffer.from(text));
  const DEBITED = ascii('Debited');
  const good = (version: string) => fields('type', 'Debited', 'v', version, 'data', '{}');
  assert.is(layoutVersion(good('1')), 1);
  assert.is(layoutVersion(good('2')), 2);
  assert.ok(isType(good('2'), DEBITED));
  assert.not.ok(isType(good('2'), ascii('Credited')));
  assert.not.ok(isType(good('2'), ascii('Debite')), 'a type that is a prefix of it');
  const others: Array<[string, Buffer[]]> = [
    ['version 3', good('3')],
    ['version 01', good('01')],
    ['another name for the type field', fields('kind', 'Debited', 'v', '1', 'data', '{}')],
    ['another name for the version field', fields('type', 'Debited', 'ver', '1', 'data', '{}')],
    ['another name for the data field', fields('type', 'Debited', 'v', '1', 'body', '{}')],
    ['a field more', fields('type', 'Debited', 'v', '1', 'data', '{}', 'data', '{}')],
    ['a field less', fields('type', 'Debited', 'v', '1', 'data')],
    ['no fields', []],
  ];
  for (const [what, entry] of others) assert.is(layoutVersion(entry), undefined, what);
  // Whatever a caller hands it, it answers rather than throws.
  for (const entry of [[], fields('type'), fields('type', 'Debited', 'v', '1', 'data')]) {
    assert.not.ok(isType(entry, DEBITED), `${entry.length} fields`);
  }
});

const copies = testSuite('ownCopy');

copies('copies any text exactly: escapes, astral characters, lone surrogates', () => {
  for (const text of ['', 'john-account', 'a"b\\c\n\u0000', '€𝄞', '\ud800', 'x\udfffy']) {
    assert.is(ownCopy(text), text);
  }
});

/** Heap used after keeping, of each of 64 texts of 1 MiB, a 20-character slice as `keep` makes it. */
function heapKeeping(keep: (slice: string) => string): number {
  const kept: string[] = [];
  for (let i = 0; i < 64; i++) {
    // Built at run time, so that each is a string of its own in the heap (not a constant).
    const entry = `{"account":"account-${i}-of-the-bank","pad":"${'x'.repeat(1 << 20)}${i}"}`;
    kept.push(keep(entry.slice(12, 32)));
  }
  collectGarbage();
  collectGarbage();
  const used = process.memoryUsage().heapUsed;
  assert.is(kept.length, 64);
  return used;
}

copies('keeps none of the text it was sliced from', () => {
  const baseline = heapKeeping(() => '');
  const slices = heapKeeping((slice) => slice);
  const owned = heapKeeping(ownCopy);
  const mib = (bytes: number) => Math.round((bytes - baseline) / (1 << 20));
  // The slices themselves keep their 64 parents (about 64 MiB); the copies keep a few bytes each.
  assert.ok(mib(slices) >= 48, `the slices kept ${mib(slices)} MiB: V8 no longer keeps a slice as a view?`);
  assert.ok(mib(owned) <= 4, `the copies kept ${mib(owned)} MiB`);
});

layout.run();
copies.run();
