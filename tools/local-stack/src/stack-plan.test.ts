import { REPO_ROOT, testSuite } from '@microbank/testing';
import * as assert from 'uvu/assert';
import { componentsOf, planStack, SettingsError, serviceUrl, stackSettings } from './stack-plan.ts';

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
  // The bank, not an account, makes the opening issuances: both transfer replicas are told the same.
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

plan.run();
