import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT, testSuite } from '@microbank/testing';
import * as assert from 'uvu/assert';
import { clusterDir, componentsOf, planStack, SettingsError, serviceUrl, stackSettings } from './stack-plan.ts';

const plan = testSuite('local stack plan');

plan('by default the README`s ports: Redis 6380, the services 8081-8086, data in .data/', async () => {
  const settings = stackSettings({});
  assert.equal(settings, { dataDir: `${REPO_ROOT}.data`, portBase: 8080, redisPort: 6380, extraAccounts: 0 });
  const planned = await planStack(settings);
  assert.is(planned.redisUrl, 'redis://127.0.0.1:6380');
  assert.equal(
    planned.services.map((spec) => [spec.name, spec.port]),
    [
      ['account-system', 8081],
      ['balance', 8082],
      ['john-account', 8083],
      ['mary-account', 8084],
      ['transfer-1', 8085],
      ['transfer-2', 8086],
      ['dashboard', 8080],
    ],
  );
  assert.is(serviceUrl(planned, 'account-system', '/accounts'), 'http://127.0.0.1:8081/accounts');
  assert.equal(componentsOf(planned), [
    'redis',
    'account-system',
    'balance',
    'john-account',
    'mary-account',
    'transfer-1',
    'transfer-2',
    'dashboard',
  ]);
  const john = planned.services.find((spec) => spec.name === 'john-account');
  assert.equal(john?.env, {
    REDIS_URL: 'redis://127.0.0.1:6380',
    PORT: '8083',
    ACCOUNT_NAME: 'john-account',
    ACCOUNT_URL: 'http://127.0.0.1:8083',
  });
  // The bank, not an account, makes the opening issuances: both transfer instances are told the same.
  for (const name of ['transfer-1', 'transfer-2']) {
    const transfer = planned.services.find((spec) => spec.name === name);
    assert.is(transfer?.env.ISSUANCE, 'john-account=100,mary-account=100', name);
  }
});

plan('MICROBANK_PORT_BASE and MICROBANK_REDIS_PORT move the whole stack', async () => {
  const planned = await planStack(stackSettings({ MICROBANK_PORT_BASE: '9080', MICROBANK_REDIS_PORT: '6390' }));
  assert.equal(
    planned.services.map((spec) => spec.port),
    [9081, 9082, 9083, 9084, 9085, 9086, 9080],
  );
  assert.ok(planned.services.every((spec) => spec.env.REDIS_URL === 'redis://127.0.0.1:6390'));
});

plan('MICROBANK_EXTRA_ACCOUNTS adds account-1 to account-n after mary, on ports of their own', async () => {
  const planned = await planStack(stackSettings({ MICROBANK_EXTRA_ACCOUNTS: '3' }));
  const accounts = planned.services.filter((spec) => spec.program === 'account');
  assert.equal(
    accounts.map((spec) => [spec.name, spec.port, spec.env.ACCOUNT_URL]),
    [
      ['john-account', 8083, 'http://127.0.0.1:8083'],
      ['mary-account', 8084, 'http://127.0.0.1:8084'],
      ['account-1', 8090, 'http://127.0.0.1:8090'],
      ['account-2', 8091, 'http://127.0.0.1:8091'],
      ['account-3', 8092, 'http://127.0.0.1:8092'],
    ],
  );
  assert.throws(
    () => stackSettings({ MICROBANK_EXTRA_ACCOUNTS: '101' }),
    /MICROBANK_EXTRA_ACCOUNTS must be a whole number 0-100/,
  );
});

plan('0 picks free ports, all different', async () => {
  const planned = await planStack(stackSettings({ MICROBANK_PORT_BASE: '0', MICROBANK_REDIS_PORT: '0' }));
  const ports = [planned.redisPort, ...planned.services.map((spec) => spec.port)];
  assert.ok(ports.every((port) => port > 0));
  assert.is(new Set(ports).size, ports.length);
});

plan('a bad port setting is named', () => {
  assert.throws(
    () => stackSettings({ MICROBANK_PORT_BASE: 'eighty' }),
    (error: Error) => {
      return error instanceof SettingsError && /MICROBANK_PORT_BASE must be a port number/.test(error.message);
    },
  );
  assert.throws(() => stackSettings({ MICROBANK_REDIS_PORT: '70000' }), /MICROBANK_REDIS_PORT must be a port number/);
});

plan(
  '--cluster: nine nodes from the Redis port on, every service told all of them as seeds, cluster mode and one confirming replica',
  async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'microbank-plan-'));
    try {
      const settings = stackSettings({ MICROBANK_DATA_DIR: dataDir }, { cluster: true });
      assert.equal(settings.cluster, { nodeTimeoutMs: 5000 });
      const planned = await planStack(settings);
      const cluster = planned.redisCluster;
      assert.ok(cluster, 'the plan has a cluster');
      assert.equal([cluster.primaries, cluster.replicasPerPrimary, cluster.nodeTimeoutMs], [3, 2, 5000]);
      assert.equal(
        cluster.nodes.map((node) => [node.name, node.port, node.busPort, node.dataDir]),
        [1, 2, 3, 4, 5, 6, 7, 8, 9].map((n) => [
          `redis-${n}`,
          6379 + n,
          16379 + n,
          join(dataDir, 'redis-cluster', `redis-${n}`),
        ]),
      );
      const seeds = [6380, 6381, 6382, 6383, 6384, 6385, 6386, 6387, 6388].map((port) => `redis://127.0.0.1:${port}`);
      assert.is(planned.redisUrl, seeds.join(','));
      assert.is(planned.redisPort, 6380);
      for (const spec of planned.services) {
        assert.equal(
          [spec.env.REDIS_URL, spec.env.REDIS_CLUSTER, spec.env.REDIS_CONFIRM_REPLICAS],
          [seeds.join(','), 'true', '1'],
          spec.name,
        );
      }
      assert.equal(componentsOf(planned).slice(0, 10), [
        'redis-1',
        'redis-2',
        'redis-3',
        'redis-4',
        'redis-5',
        'redis-6',
        'redis-7',
        'redis-8',
        'redis-9',
        'account-system',
      ]);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  },
);

plan('without --cluster the services are told nothing of a cluster', async () => {
  const planned = await planStack(stackSettings({}));
  assert.is(planned.redisCluster, undefined);
  for (const spec of planned.services) {
    assert.is(spec.env.REDIS_CLUSTER, undefined, spec.name);
    assert.is(spec.env.REDIS_CONFIRM_REPLICAS, undefined, spec.name);
  }
});

plan(
  'a cluster that ran before keeps the ports its nodes.conf records, whatever MICROBANK_REDIS_PORT says now',
  async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'microbank-plan-'));
    try {
      const node = join(clusterDir(dataDir), 'redis-2');
      mkdirSync(node, { recursive: true });
      writeFileSync(
        join(node, 'nodes.conf'),
        [
          'a1b2 127.0.0.1:7001@17001,,tls-port=0,shard-id=x master - 0 0 1 connected 0-5460',
          'c3d4 127.0.0.1:7002@27002,,tls-port=0,shard-id=y myself,slave a1b2 0 0 1 connected',
          'vars currentEpoch 6 lastVoteEpoch 0',
          '',
        ].join('\n'),
      );
      const planned = await planStack(
        stackSettings({ MICROBANK_DATA_DIR: dataDir, MICROBANK_REDIS_PORT: '6500' }, { cluster: true }),
      );
      assert.equal(
        planned.redisCluster?.nodes.slice(0, 3).map((each) => [each.name, each.port, each.busPort]),
        [
          ['redis-1', 6500, 16500],
          ['redis-2', 7002, 27002],
          ['redis-3', 6502, 16502],
        ],
      );
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  },
);

plan('MICROBANK_CLUSTER_NODE_TIMEOUT_MS sets the nodes` timeout; a bad one is named', () => {
  const cluster = (value: string) => stackSettings({ MICROBANK_CLUSTER_NODE_TIMEOUT_MS: value }, { cluster: true });
  assert.equal(cluster('1000').cluster, { nodeTimeoutMs: 1000 });
  assert.throws(() => cluster('5s'), /MICROBANK_CLUSTER_NODE_TIMEOUT_MS must be milliseconds 100-120000/);
  assert.throws(() => cluster('50'), /MICROBANK_CLUSTER_NODE_TIMEOUT_MS must be milliseconds/);
  assert.is(stackSettings({ MICROBANK_CLUSTER_NODE_TIMEOUT_MS: '1000' }).cluster, undefined, 'only with --cluster');
});

plan.run();
