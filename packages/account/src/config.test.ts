import { ConfigError } from '@microbank/service-runtime';
import { testSuite } from '@microbank/testing';
import * as assert from 'uvu/assert';
import { accountFromHostname, readAccountConfig } from './config.ts';

const config = testSuite('account config');
const base = { REDIS_URL: 'redis://127.0.0.1:6380', PORT: '8083' };

function problem(env: Record<string, string>): string {
  try {
    readAccountConfig(env);
  } catch (error) {
    assert.instance(error, ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}

config('ACCOUNT_NAME names the account; without ACCOUNT_URL the service uses its own local port', () => {
  const read = readAccountConfig({ ...base, ACCOUNT_NAME: 'john-account' });
  assert.is(read.account, 'john-account');
  assert.is(read.accountUrl, undefined);
});

config('without ACCOUNT_NAME, the name comes from the pod hostname', () => {
  assert.is(accountFromHostname('microbank-john-account-5d9f8c7b6d-x2x4z'), 'john-account');
  assert.is(accountFromHostname('microbank-mary-account-7c6b9f-abcde'), 'mary-account');
  assert.is(readAccountConfig({ ...base, HOSTNAME: 'microbank-mary-account-7c6b9f5d4-q8w2e' }).account, 'mary-account');
});

config('a hostname that is not a pod name gives no account name', () => {
  for (const host of ['laptop', 'microbank-john', 'john-account-5d9f8c7b6d-x2x4z', '']) {
    assert.is(accountFromHostname(host), undefined, host);
  }
});

config('no ACCOUNT_NAME and no usable hostname stops with ACCOUNT_NAME named', () => {
  assert.match(problem({ ...base, HOSTNAME: 'laptop' }), /ACCOUNT_NAME is required.*"laptop"/);
});

config('an ACCOUNT_NAME that is not a DNS label is refused', () => {
  for (const name of ['John', 'john_account', '-john', 'john-', 'a'.repeat(64), 'jöhn', '../etc']) {
    assert.match(problem({ ...base, ACCOUNT_NAME: name }), /ACCOUNT_NAME must be a DNS label/, name);
  }
});

config('a set OPENING_BALANCE stops the account: money is issued by the bank, in its ISSUANCE', () => {
  for (const value of ['100', '0', '']) {
    const message = problem({ ...base, ACCOUNT_NAME: 'john-account', OPENING_BALANCE: value });
    assert.match(message, /OPENING_BALANCE/, value);
    assert.match(message, /issued by the bank.*ISSUANCE/, value);
  }
});

config('ACCOUNT_URL must be http(s)', () => {
  assert.match(problem({ ...base, ACCOUNT_NAME: 'john-account', ACCOUNT_URL: 'ftp://x' }), /ACCOUNT_URL/);
  assert.is(
    readAccountConfig({ ...base, ACCOUNT_NAME: 'john-account', ACCOUNT_URL: 'http://microbank-john-account' })
      .accountUrl,
    'http://microbank-john-account',
  );
});

config.run();
