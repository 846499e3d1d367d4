/**
 * Reading a Redis Cluster's nodes with no I/O: given what `CLUSTER NODES` said at two looks, then
 * these nodes, these slots without a primary, these marks for the timeline.
 */
import { testSuite } from '@microbank/testing';
import * as assert from 'uvu/assert';
import { clusterChanges, describeSlots, nodeViews, slotsWithoutPrimary } from './cluster-nodes.ts';

const nodes = testSuite('cluster nodes');

// Three primaries and their replicas, as the node on 7001 sees them (Redis 7.0's format).
const WHOLE = `
a1 127.0.0.1:7001@17001 myself,master - 0 0 1 connected 0-5460
a2 127.0.0.1:7002@17002 master - 0 1700000000000 2 connected 5461-10922
a3 127.0.0.1:7003@17003 master - 0 1700000000000 3 connected 10923-16383
b1 127.0.0.1:7004@17004 slave a1 0 1700000000000 1 connected
b2 127.0.0.1:7005@17005 slave a2 0 1700000000000 2 connected
b3 127.0.0.1:7006@17006 slave a3 0 1700000000000 3 connected
`;

const withLine = (text: string, id: string, line: string) =>
  text
    .split('\n')
    .map((each) => (each.startsWith(`${id} `) ? line : each))
    .join('\n');

nodes('each node with its address, role, the primary it follows, its slots and whether it is up', () => {
  const seen = nodeViews(WHOLE);
  assert.equal(seen[0], {
    id: 'a1',
    address: '127.0.0.1:7001',
    role: 'primary',
    follows: undefined,
    slots: [[0, 5460]],
    state: 'connected',
  });
  assert.equal(seen[3], {
    id: 'b1',
    address: '127.0.0.1:7004',
    role: 'replica',
    follows: '127.0.0.1:7001',
    slots: [],
    state: 'connected',
  });
  assert.is(slotsWithoutPrimary(seen), 0);
});

nodes('flags fail? and fail, slots being moved, a node in handshake, a hostname after the address', () => {
  const seen = nodeViews(
    [
      'a1 127.0.0.1:7001@17001,redis-1 master,fail? - 0 0 1 disconnected 0-100 200 [300->-a2]',
      'a2 127.0.0.1:7002@17002 master,fail - 0 0 2 disconnected',
      'h1 127.0.0.1:7009@17009 handshake - 0 0 0 connected',
    ].join('\n'),
  );
  assert.equal(
    seen.map(({ address, state, slots }) => ({ address, state, slots })),
    [
      {
        address: '127.0.0.1:7001',
        state: 'failing',
        slots: [
          [0, 100],
          [200, 200],
        ],
      },
      { address: '127.0.0.1:7002', state: 'fail', slots: [] },
    ],
  );
  assert.is(describeSlots(seen[0]?.slots ?? []), '0-100 200');
  // A failing primary's slots count as served by nobody: the cluster refuses them.
  assert.is(slotsWithoutPrimary(seen), 16_384);
});

nodes('a primary killed: down, then its replica takes its slots over, then it comes back as a replica', () => {
  const before = nodeViews(WHOLE);
  const failing = nodeViews(
    withLine(WHOLE, 'a2', 'a2 127.0.0.1:7002@17002 master,fail? - 0 0 2 disconnected 5461-10922'),
  );
  assert.equal(clusterChanges(before, failing), [{ what: 'down', node: '127.0.0.1:7002' }]);
  assert.is(slotsWithoutPrimary(failing), 5_462);

  const failedOver = nodeViews(
    withLine(
      withLine(WHOLE, 'a2', 'a2 127.0.0.1:7002@17002 master,fail - 0 0 2 disconnected'),
      'b2',
      'b2 127.0.0.1:7005@17005 master - 0 0 4 connected 5461-10922',
    ),
  );
  assert.equal(clusterChanges(failing, failedOver), [
    { what: 'failover', node: '127.0.0.1:7005', slots: '5461-10922', replaced: '127.0.0.1:7002' },
  ]);
  assert.is(slotsWithoutPrimary(failedOver), 0);
  // Looked at again with nothing changed: no mark.
  assert.equal(clusterChanges(failedOver, failedOver), []);

  const back = nodeViews(
    withLine(
      withLine(WHOLE, 'a2', 'a2 127.0.0.1:7002@17002 slave b2 0 0 4 connected'),
      'b2',
      'b2 127.0.0.1:7005@17005 master - 0 0 4 connected 5461-10922',
    ),
  );
  assert.equal(clusterChanges(failedOver, back), [{ what: 'back', node: '127.0.0.1:7002' }]);
  assert.is(back.find((node) => node.id === 'a2')?.follows, '127.0.0.1:7005');
});

nodes('the first look marks nothing', () => {
  assert.equal(clusterChanges([], nodeViews(WHOLE)), []);
});

nodes.run();
