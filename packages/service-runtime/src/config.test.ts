import { testSuite } from '@microbank/testing';
import * as assert from 'uvu/assert';
import { ConfigError, millisecondsVar, parseConfig, readSettings, serviceEnv, snapshotKeyVar } from './config.ts';

const config = testSuite('config from the environment');

const good = { REDIS_URL: 'redis://127.0.0.1:6380', PORT: '8081' };

function problem(env: Record<string, string | undefined>): string {
  try {
    parseConfig({ ...serviceEnv, READ_WAIT_MAX_MS: millisecondsVar(2000) }, env);
  } catch (error) {
    assert.instance(error, ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}

config('reads a good environment, with defaults', () => {
  const vars = parseConfig({ ...serviceEnv, READ_WAIT_MAX_MS: millisecondsVar(2000) }, good);
  assert.equal(vars, {
    REDIS_URL: [good.REDIS_URL],
    REDIS_CLUSTER: 'false',
    REDIS_CONFIRM_TIMEOUT_MS: 1000,
    PORT: 8081,
    LOG_LEVEL: 'info',
    SHUTDOWN_DELAY_MS: 0,
    SHUTDOWN_DRAIN_MS: 5000,
    READ_WAIT_MAX_MS: 2000,
  });
});

config('accepts a password in REDIS_URL and rediss://', () => {
  for (const url of ['redis://:s3cret@microbank-redis:6379', 'rediss://user:pw@host:6380/0']) {
    assert.equal(parseConfig(serviceEnv, { ...good, REDIS_URL: url }).REDIS_URL, [url]);
  }
});

config('a missing REDIS_URL is named', () => {
  assert.match(problem({ PORT: '8081' }), /REDIS_URL is required/);
});

config('a REDIS_URL that is not a redis URL is named, with what was given', () => {
  for (const url of ['localhost:6379', 'http://127.0.0.1:6379', 'redis://', 'not a url']) {
    const message = problem({ ...good, REDIS_URL: url });
    assert.match(message, /REDIS_URL must look like redis:\/\//);
    assert.ok(message.includes(JSON.stringify(url)), message);
  }
});

config('a missing or bad PORT is named', () => {
  assert.match(problem({ REDIS_URL: good.REDIS_URL }), /PORT is required/);
  for (const port of ['http', '-1', '65536', '80.5', '']) {
    assert.match(problem({ ...good, PORT: port }), /PORT must be a port number/);
  }
});

config('every bad variable is listed at once', () => {
  const message = problem({ PORT: 'x', LOG_LEVEL: 'loud', READ_WAIT_MAX_MS: '0' });
  for (const name of ['REDIS_URL', 'PORT', 'LOG_LEVEL', 'READ_WAIT_MAX_MS']) assert.ok(message.includes(name), message);
});

config('a bad REDIS_URL is named without its password; a bad SNAPSHOT_KEY without its value', () => {
  const url = problem({ ...good, REDIS_URL: 'redis://:hunter2-secret@host:notaport' });
  assert.match(url, /REDIS_URL must look like redis:\/\//);
  assert.not.match(url, /hunter2/);
  assert.match(url, /redis:\/\/\*\*\*@host/);
  // A password long enough that its end lies past what a message quotes: hidden all the same.
  const long = problem({ ...good, REDIS_URL: `redis://:${'p'.repeat(70)}hunter2-tail@host:notaport` });
  assert.not.match(long, /ppp|hunter2/);
  assert.match(long, /redis:\/\/\*\*\*@host/);
  const key = (() => {
    try {
      parseConfig({ ...serviceEnv, SNAPSHOT_KEY: snapshotKeyVar }, { ...good, SNAPSHOT_KEY: 'short-secret' });
    } catch (error) {
      return (error as Error).message;
    }
    throw new Error('expected a ConfigError');
  })();
  assert.match(key, /SNAPSHOT_KEY must be at least 32 characters/);
  assert.match(key, /got 12 characters, not shown/);
  assert.not.match(key, /short-secret/);
});

config('a cluster: its seed nodes in REDIS_URL, each write confirmed by one replica unless told otherwise', () => {
  const seeds = 'redis://:pw@10.0.0.1:6379,redis://:pw@10.0.0.2:6379';
  const cluster = readSettings({ ...good, REDIS_URL: seeds, REDIS_CLUSTER: 'true' }, {});
  assert.equal(cluster.redis, {
    urls: ['redis://:pw@10.0.0.1:6379', 'redis://:pw@10.0.0.2:6379'],
    cluster: true,
    confirm: { replicas: 1, timeoutMs: 1000 },
  });
  const off = readSettings({ ...good, REDIS_CLUSTER: 'true', REDIS_CONFIRM_REPLICAS: '0' }, {});
  assert.equal(off.redis.confirm, { replicas: 0, timeoutMs: 1000 });
  const two = readSettings({ ...good, REDIS_CONFIRM_REPLICAS: '2', REDIS_CONFIRM_TIMEOUT_MS: '250' }, {});
  assert.equal(two.redis, { urls: [good.REDIS_URL], cluster: false, confirm: { replicas: 2, timeoutMs: 250 } });
});

config('bad cluster settings are named, and no password of a list of URLs is shown', () => {
  const mixed = () =>
    readSettings({ ...good, REDIS_CLUSTER: 'true', REDIS_URL: 'rediss://:pw@a:1,redis://:pw@b:2' }, {});
  assert.throws(
    mixed,
    (error: Error) => /seeds must share one scheme/.test(error.message) && !/pw/.test(error.message),
  );
  const several = () =>
    readSettings({ ...good, REDIS_URL: 'redis://:first-secret@a:1,redis://:second-secret@b:2' }, {});
  assert.throws(several, (error: Error) => /REDIS_URL names several nodes/.test(error.message));
  const message = problem({
    ...good,
    REDIS_URL: 'redis://:first-secret@a:1,redis://:sec/ret,two@b:x',
    REDIS_CLUSTER: 'yes',
    REDIS_CONFIRM_REPLICAS: '-1',
  });
  for (const name of ['REDIS_URL', 'REDIS_CLUSTER must be true or false', 'REDIS_CONFIRM_REPLICAS']) {
    assert.ok(message.includes(name), message);
  }
  assert.not.match(message, /secret|sec\/ret|two/);
  for (const value of [
    'redis-0:6379,redis://:s3cret@redis-1:6379',
    ' redis://:s3cret@host:x',
    '\nredis://:s3cret@h:x',
  ]) {
    const shown = problem({ ...good, REDIS_URL: value, REDIS_CLUSTER: 'true' });
    assert.match(shown, /REDIS_URL must look like/);
    assert.not.match(shown, /s3cret/, value);
  }
});

const table = {
  readWaitMaxMs: ['READ_WAIT_MAX_MS', millisecondsVar(2000)],
  snapshotKey: ['SNAPSHOT_KEY', snapshotKeyVar],
} as const;

config('readSettings: the common settings, then each setting of the table from its variable', () => {
  assert.equal(readSettings({ ...good, READ_WAIT_MAX_MS: '300' }, table), {
    redis: { urls: [good.REDIS_URL], cluster: false, confirm: { replicas: 0, timeoutMs: 1000 } },
    port: 8081,
    logLevel: 'info',
    shutdown: { delayMs: 0, drainMs: 5000 },
    readWaitMaxMs: 300,
    snapshotKey: undefined,
  });
});

config('readSettings: every bad variable is named, common or not, and no secret is shown', () => {
  try {
    readSettings({ REDIS_URL: 'redis://:hunter2@host:x', READ_WAIT_MAX_MS: '0', SNAPSHOT_KEY: 'short-secret' }, table);
  } catch (error) {
    assert.instance(error, ConfigError);
    const message = (error as Error).message;
    for (const name of ['REDIS_URL', 'PORT', 'READ_WAIT_MAX_MS', 'SNAPSHOT_KEY'])
      assert.ok(message.includes(name), message);
    assert.not.match(message, /hunter2|short-secret/);
    return;
  }
  throw new Error('expected a ConfigError');
});

config.run();
