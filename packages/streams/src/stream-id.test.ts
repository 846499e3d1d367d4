import { testSuite } from '@microbank/testing';
import * as assert from 'uvu/assert';
import { compareStreamIds, isStreamId } from './stream-id.ts';

const ids = testSuite('stream ids');

ids('accepts canonical IDs up to 64 bits per part', () => {
  for (const id of ['0-0', '1-0', '1732530000000-7', '18446744073709551615-18446744073709551615']) {
    assert.ok(isStreamId(id), id);
  }
});

ids('rejects what is not a complete canonical ID', () => {
  for (const id of [
    '',
    '-',
    '1',
    '1-',
    '-1',
    '01-0',
    '1-01',
    'a-b',
    '1-2-3',
    ' 1-0',
    '18446744073709551616-0',
    '$',
    '*',
  ]) {
    assert.not.ok(isStreamId(id), id);
  }
});

ids('orders by time, then by sequence, numerically', () => {
  assert.ok(compareStreamIds('2-0', '10-0') < 0);
  assert.ok(compareStreamIds('10-0', '2-0') > 0);
  assert.ok(compareStreamIds('5-2', '5-10') < 0);
  assert.is(compareStreamIds('5-2', '5-2'), 0);
  assert.ok(compareStreamIds('18446744073709551615-0', '18446744073709551614-9') > 0);
});

ids.run();
