import { REPO_ROOT, testSuite } from '@microbank/testing';
import * as assert from 'uvu/assert';
import { componentsOf, planStack, SettingsError, serviceUrl, stackSettings } from './stack-plan.ts';

const plan = testSuite('local stack plan');

plan('by default the README`s ports: Redis 6380, the services 8081-8084, data in .data/', async () => {
  const settings = stackSettings({});
  assert.equal(settings, { dataDir: `${REPO_ROOT}.data`, portBase: 8080, redisPort: 6380 });
  const planned = await planStack(settings);
  assert.is(planned.redisUrl, 'redis://127.0.0.1:6380');
  assert.equal(
    planned.services.map((spec) => [spec.name, spec.port]),
    [
      ['account-system', 8081],
      ['balance', 8082],
      ['john-account', 8083],
      ['mary-account', 8084],
    ],
  );
  assert.is(serviceUrl(planned, 'account-system', '/accounts'), 'http://127.0.0.1:8081/accounts');
  assert.equal(componentsOf(planned), ['redis', 'account-system', 'balance', 'john-account', 'mary-account']);
  const john = planned.services.find((spec) => spec.name === 'john-account');
  assert.equal(john?.env, {
    REDIS_URL: 'redis://127.0.0.1:6380',
    PORT: '8083',
    ACCOUNT_NAME: 'john-account',
    ACCOUNT_URL: 'http://127.0.0.1:8083',
  });
});

plan('MICROBANK_PORT_BASE and MICROBANK_REDIS_PORT move the whole stack', async () => {
  const planned = await planStack(stackSettings({ MICROBANK_PORT_BASE: '9080', MICROBANK_REDIS_PORT: '6390' }));
  assert.equal(
    planned.services.map((spec) => spec.port),
    [9081, 9082, 9083, 9084],
  );
  assert.ok(planned.services.every((spec) => spec.env.REDIS_URL === 'redis://127.0.0.1:6390'));
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
