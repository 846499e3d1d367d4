import { testSuite } from '@microbank/testing';
import * as assert from 'uvu/assert';
import { silentLog } from './log.ts';
import { startStateProjection } from './state-projection.ts';

const state = testSuite('state projection');

const options = {
  redisAt: 'redis://127.0.0.1:1',
  log: silentLog,
  name: 'test',
  decode: () => ({ ok: true as const, event: {} }),
  apply: () => {},
};

state('refuses snapshots that do not say what a snapshot of the state is', () => {
  assert.throws(
    () => startStateProjection({ ...options, streams: ['test:stream'], snapshots: { secret: 'secret' } }),
    /does not say what one is/,
  );
});

state('refuses a projection of no stream', () => {
  assert.throws(() => startStateProjection({ ...options, streams: [], snapshots: false }), /follows no stream/);
});

state.run();
