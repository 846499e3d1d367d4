import { testSuite } from '@microbank/testing';
import * as assert from 'uvu/assert';
import type { AccountRegistered } from './account-events.ts';
import { accountNames, applyAccountEvent, createAccountsRegistry } from './accounts-registry.ts';

const registry = testSuite('accounts registry');

function registered(account: string, url = `http://${account}`): AccountRegistered {
  return {
    type: 'AccountRegistered',
    data: { account, url, instance: `${account}-pod`, registeredAt: '2026-11-25T10:00:00Z' },
  };
}

function given(events: Array<[string, AccountRegistered]>) {
  const state = createAccountsRegistry();
  for (const [id, event] of events) applyAccountEvent(state, event, id);
  return state;
}

registry('given no events, there are no accounts', () => {
  assert.equal(accountNames(given([])), []);
});

registry('accounts are listed in the order of their first registration', () => {
  const state = given([
    ['1-0', registered('john-account')],
    ['2-0', registered('mary-account')],
  ]);
  assert.equal(accountNames(state), ['john-account', 'mary-account']);
});

registry('a restart registers again but the account appears once, in its first place', () => {
  const state = given([
    ['1-0', registered('john-account')],
    ['2-0', registered('mary-account')],
    ['3-0', registered('john-account')],
    ['4-0', registered('mary-account')],
    ['5-0', registered('john-account')],
  ]);
  assert.equal(accountNames(state), ['john-account', 'mary-account']);
  assert.is(state.accounts.get('john-account')?.firstRegisteredAt, '1-0');
});

registry('the latest registration says where the account answers now', () => {
  const state = given([
    ['1-0', registered('john-account', 'http://10.0.0.1')],
    ['2-0', registered('john-account', 'http://10.0.0.2')],
  ]);
  assert.is(state.accounts.get('john-account')?.url, 'http://10.0.0.2');
});

registry('the version moves only when something changed', () => {
  const state = given([['1-0', registered('john-account')]]);
  const before = state.version;
  applyAccountEvent(state, registered('john-account'), '2-0');
  assert.is(state.version, before);
  applyAccountEvent(state, registered('mary-account'), '3-0');
  assert.is(state.version, before + 1);
});

registry.run();
