/**
 * The ledger's decider: given/when/then with no I/O, then the property that holds it equal to the
 * Lua scripts: random commands (open, issue, debit, credit, refund, with arguments right and wrong,
 * steps tried again, a compaction point set) run on a real Redis through the scripts and through
 * decideLedger + applyDecision, command by command: the same outcome (or the same failure), the
 * same events appended, and the same state and steps hashes as the decider's state.
 */
import {
  COMPACTED_BEFORE,
  type LedgerEvent,
  ledgerEvents,
  ledgerKey,
  ledgerStateKey,
  ledgerStepsKey,
  MAX_AMOUNT,
} from '@microbank/events';
import { connectRedis, decodeEntry, silentLog } from '@microbank/streams';
import { readStream, redisSuite, testSuite, uniquePrefix } from '@microbank/testing';
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import * as assert from 'uvu/assert';
import {
  applyDecision,
  decideLedger,
  emptyLedgerState,
  type KeptStep,
  type LedgerCommand,
  type LedgerDecision,
  type LedgerState,
} from './ledger-decider.ts';
import { defineLedgerScript } from './ledger-steps.ts';

const T1 = '3f2b8c1e-9a4d-4e7f-8b21-6c5d4e3f2a1b';
const T2 = '6a0c4b0e-1f2d-4c3b-9a8e-7d6c5b4a3f21';
const JOHN = 'john-account';
const MARY = 'mary-account';

// ---- given / when / then ----

const decider = testSuite('ledger decider');

/** Given these commands decided and kept one after the other, the ledger's state. */
function given(...commands: LedgerCommand[]): LedgerState {
  const state = emptyLedgerState(JOHN);
  for (const [at, command] of commands.entries()) {
    const decision = decideLedger(state, command);
    applyDecision(
      state,
      decision,
      (decision.kind === 'new' ? decision.events : []).map((_, i) => `${at + 1}-${i}`),
    );
  }
  return state;
}
const open: LedgerCommand = { type: 'open', account: JOHN };
const issue = (amount: number, issuance = 'opening:john-account'): LedgerCommand => ({
  type: 'issue',
  issuance,
  account: JOHN,
  amount,
});
const debit = (amount: number, transfer = T1, requested?: string): LedgerCommand => ({
  type: 'debit',
  transfer,
  to: MARY,
  amount,
  ...(requested === undefined ? {} : { requested }),
});

decider('issuing into a ledger not opened opens it first', () => {
  const decision = decideLedger(emptyLedgerState(JOHN), issue(100));
  assert.equal(decision, {
    kind: 'new',
    outcome: 'issued',
    events: [
      { type: 'AccountOpened', data: { account: JOHN, seq: 1 } },
      { type: 'Issued', data: { issuance: 'opening:john-account', amount: 100, seq: 2 } },
    ],
    step: { name: 'issue:opening:john-account', kept: { outcome: 'issued', amount: 100 } },
  });
});

decider('a debit past the balance is declined, and decided once: the same debit later answers it again', () => {
  const state = given(open, issue(10));
  const decision = decideLedger(state, debit(25));
  assert.equal(decision.kind === 'new' && [decision.outcome, decision.events], [
    'declined',
    [{ type: 'DebitDeclined', data: { transfer: T1, to: MARY, amount: 25, reason: 'insufficient-funds', seq: 3 } }],
  ]);
  applyDecision(state, decision, ['9-0']);
  assert.equal(decideLedger(given(open, issue(100)), debit(25)).kind, 'new', 'with the money, it would be debited');
  assert.equal(decideLedger(state, debit(5)), { kind: 'repeat', outcome: 'declined' });
  assert.is(state.ledger.balance, 10);
});

decider('a debit or credit on a ledger never opened is refused, and the refusal kept', () => {
  const decision = decideLedger(emptyLedgerState(JOHN), debit(1));
  assert.equal(decision, {
    kind: 'new',
    outcome: 'refused unknown-account',
    events: [],
    step: { name: `debit:${T1}`, kept: { outcome: 'refused unknown-account' } },
  });
});

decider('a refund gives back only a debit made, of its own amount, once', () => {
  const refund = (amount: number, transfer = T1): LedgerCommand => ({ type: 'refund', transfer, to: MARY, amount });
  const state = given(open, issue(100), debit(30));
  assert.equal(decideLedger(state, refund(30, T2)), { kind: 'new', outcome: 'refused no-debit', events: [] });
  assert.equal(decideLedger(state, refund(31)), { kind: 'new', outcome: 'refused amount-mismatch', events: [] });
  const refunded = given(open, issue(100), debit(30), refund(30));
  assert.equal([refunded.ledger.balance, refunded.ledger.seq], [100, 4]);
  assert.equal(decideLedger(refunded, refund(30)), { kind: 'repeat', outcome: 'refunded' });
});

decider('behind the compaction point a new step is refused and not kept; one decided before answers as before', () => {
  const state = given(open, issue(100), debit(30, T1, '5-0'));
  state.compactedBefore = '7-0';
  assert.equal(decideLedger(state, debit(1, T2, '6-9')), { kind: 'new', outcome: 'refused compacted', events: [] });
  assert.equal(decideLedger(state, debit(1, T2)), { kind: 'new', outcome: 'refused compacted', events: [] });
  assert.is(decideLedger(state, debit(1, T2, '7-0')).kind, 'new');
  assert.equal(decideLedger(state, debit(30, T1, '5-0')), { kind: 'repeat', outcome: 'debited' });
});

decider('arguments no step takes are refused with the reason the scripts give', () => {
  const state = given(open, issue(100));
  const reason = (command: LedgerCommand) => {
    const decision = decideLedger(state, command);
    return decision.kind === 'invalid' ? decision.reason : decision.kind;
  };
  assert.is(reason({ ...debit(1), to: JOHN } as LedgerCommand), 'a transfer cannot debit and credit the same account');
  assert.match(reason(debit(0)), /^the amount must be a whole number from 1 to 10\^12/);
  assert.match(reason(debit(1.5)), /^the amount must be/);
  assert.match(reason(debit(MAX_AMOUNT + 1)), /^the amount must be/);
  assert.is(reason(debit(1, 'not-a-uuid')), 'the transfer ID must be a UUID');
  assert.is(reason({ type: 'open', account: MARY }), "the account is not the ledger's");
});

decider.run();

// ---- the decider and the scripts, held equal ----

const properties = redisSuite('ledger decider and scripts', {
  connect: (url) => connectRedis(url, 'test', silentLog),
});

const ACCOUNTS = ['a-account', 'b-account', 'c-account'];
const TRANSFERS = [T1, T2, '9b1deb4d-3b7d-4bad-9bdd-2b0d7b3dcb6d', 'not-a-uuid'];
const POSITIONS = [undefined, '5-0', '7-0', '7-1', '9-0', 'x'];

const amountArb = fc.oneof(
  { weight: 12, arbitrary: fc.integer({ min: 1, max: 40 }) },
  { weight: 1, arbitrary: fc.constantFrom(0, -1, 1.5, MAX_AMOUNT, MAX_AMOUNT + 1) },
);
const accountArb = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(...ACCOUNTS) },
  { weight: 1, arbitrary: fc.constant('Not_An_Account') },
);
/** A transfer's amount: mostly a few, so that a refund can match its debit. */
const stepAmountArb = fc.oneof({ weight: 6, arbitrary: fc.constantFrom(5, 15) }, amountArb);
/** Mostly the ledger's own account (open and issue name it), sometimes another. */
const ownAccountArb = (on: number) =>
  fc.oneof({ weight: 4, arbitrary: fc.constant(ACCOUNTS[on] as string) }, { weight: 1, arbitrary: accountArb });
const transferArb = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom(T1, T2) },
  { weight: 1, arbitrary: fc.constantFrom(...TRANSFERS) },
);
const positionArb = fc.constantFrom(...POSITIONS);

/** A command on the ledger of ACCOUNTS[on], or a compaction point set on it. */
type Run = { on: number; command: LedgerCommand } | { on: number; compactedBefore: string };

const runArb: fc.Arbitrary<Run> = fc.oneof(
  {
    weight: 1,
    arbitrary: fc.nat(2).chain((on) =>
      fc.record({
        on: fc.constant(on),
        command: fc.record({ type: fc.constant('open' as const), account: ownAccountArb(on) }),
      }),
    ),
  },
  {
    weight: 2,
    arbitrary: fc.nat(2).chain((on) =>
      fc.record({
        on: fc.constant(on),
        command: fc.record({
          type: fc.constant('issue' as const),
          issuance: fc.constantFrom('opening:a', 'gift-1', 'gift-2', 'bad issuance'),
          account: ownAccountArb(on),
          amount: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(20, 50) }, amountArb),
        }),
      }),
    ),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      on: fc.nat(2),
      command: fc.record(
        {
          type: fc.constant('debit' as const),
          transfer: transferArb,
          to: accountArb,
          amount: stepAmountArb,
          requested: positionArb,
        },
        { requiredKeys: ['type', 'transfer', 'to', 'amount'] },
      ),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      on: fc.nat(2),
      command: fc.record(
        {
          type: fc.constant('credit' as const),
          transfer: transferArb,
          from: accountArb,
          amount: stepAmountArb,
          debit: fc.constantFrom('1-1', '3-0', 'nope'),
          requested: positionArb,
        },
        { requiredKeys: ['type', 'transfer', 'from', 'amount', 'debit'] },
      ),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({
      on: fc.nat(2),
      command: fc.record(
        {
          type: fc.constant('refund' as const),
          transfer: transferArb,
          to: accountArb,
          amount: stepAmountArb,
          requested: positionArb,
        },
        { requiredKeys: ['type', 'transfer', 'to', 'amount'] },
      ),
    }),
  },
  { weight: 1, arbitrary: fc.record({ on: fc.nat(2), compactedBefore: fc.constantFrom('6-0', '7-1') }) },
);

const T3 = TRANSFERS[2] as string;
/** A run where every outcome comes up once at least, whatever the random runs bring. */
const EVERY_OUTCOME: Run[] = [
  { on: 0, command: { type: 'open', account: 'a-account' } },
  { on: 0, command: { type: 'open', account: 'a-account' } },
  { on: 0, command: { type: 'issue', issuance: 'gift-1', account: 'a-account', amount: 50 } },
  { on: 0, command: { type: 'issue', issuance: 'gift-1', account: 'a-account', amount: 50 } },
  { on: 0, command: { type: 'issue', issuance: 'gift-1', account: 'a-account', amount: 20 } },
  { on: 0, command: { type: 'debit', transfer: T1, to: 'b-account', amount: 15 } },
  { on: 0, command: { type: 'debit', transfer: T1, to: 'b-account', amount: 15 } },
  { on: 0, command: { type: 'debit', transfer: T2, to: 'b-account', amount: 40, requested: '5-0' } },
  { on: 0, command: { type: 'refund', transfer: T1, to: 'b-account', amount: 5 } },
  { on: 0, command: { type: 'refund', transfer: T2, to: 'b-account', amount: 40 } },
  { on: 0, command: { type: 'refund', transfer: T1, to: 'b-account', amount: 15 } },
  { on: 0, command: { type: 'refund', transfer: T1, to: 'b-account', amount: 15 } },
  { on: 0, command: { type: 'credit', transfer: T3, from: 'b-account', amount: 5, debit: '1-1' } },
  { on: 1, command: { type: 'debit', transfer: T1, to: 'a-account', amount: 5 } },
  { on: 0, compactedBefore: '7-1' },
  { on: 0, command: { type: 'debit', transfer: T3, to: 'b-account', amount: 5, requested: '7-0' } },
  { on: 0, command: { type: 'debit', transfer: T3, to: 'a-account', amount: 5, requested: '7-1' } },
];

type Scripts = Record<string, (...args: string[]) => Promise<[string, string]>>;

/** Runs `command` on `account`'s ledger through its script, as ledger-steps.ts calls it; the reply or the failure. */
async function runScript(
  redis: Redis,
  prefix: string,
  account: string,
  command: LedgerCommand,
): Promise<{ kind: string; outcome: string } | { failed: string }> {
  const scripts = redis as unknown as Scripts;
  const stream = ledgerKey(account, prefix);
  const keys = [stream, ledgerStateKey(account, prefix), ledgerStepsKey(account, prefix)];
  const request = 'requested' in command ? (command.requested ?? '') : '';
  const amount = 'amount' in command ? String(command.amount) : '';
  // Each script's arguments after its keys, as ledger-steps.ts passes them.
  const [script, args]: [string, string[]] =
    command.type === 'open'
      ? ['openLedger', [command.account]]
      : command.type === 'issue'
        ? ['issueLedger', [command.issuance, command.account, amount]]
        : command.type === 'debit'
          ? ['debitLedger', [command.transfer, command.to, amount, request]]
          : command.type === 'credit'
            ? ['creditLedger', [command.transfer, command.from, amount, command.debit, request]]
            : ['refundLedger', [command.transfer, command.to, amount, request]];
  // Opening a ledger takes its stream and state keys only.
  const call = (scripts[script] as Scripts[string])(...(command.type === 'open' ? keys.slice(0, 2) : keys), ...args);
  return call.then(
    ([kind, outcome]) => ({ kind, outcome }),
    (error: Error) => ({ failed: error.message }),
  );
}

/** A script's reply as a decision's kind and outcome ("debited <entry ID> <amount>" -> "debited"). */
function replied(command: LedgerCommand, reply: { kind: string; outcome: string }): { kind: string; outcome: string } {
  if (command.type === 'open') return { kind: reply.kind === 'opened' ? 'new' : reply.kind, outcome: 'opened' };
  return { kind: reply.kind, outcome: keptOf(reply.outcome).outcome };
}

/** A steps hash's value as the decider keeps it. */
function keptOf(value: string): KeptStep {
  if (value.startsWith('refused ')) return { outcome: value as KeptStep['outcome'] };
  const [word, , amount] = value.split(' ');
  return amount === undefined
    ? { outcome: word as KeptStep['outcome'] }
    : { outcome: word as KeptStep['outcome'], amount: Number(amount) };
}

const describe = (decision: LedgerDecision) =>
  decision.kind === 'invalid' ? { failed: decision.reason } : { kind: decision.kind, outcome: decision.outcome };

properties('random commands: the scripts decide what the decider decides, event for event', async (ctx) => {
  const { redis } = ctx;
  for (const [command, file] of [
    ['openLedger', 'open-ledger-2.lua'],
    ['issueLedger', 'issue-3.lua'],
    ['debitLedger', 'debit-3.lua'],
    ['creditLedger', 'credit-3.lua'],
    ['refundLedger', 'refund-3.lua'],
  ] as const) {
    defineLedgerScript(redis, command, file);
  }
  const seen = new Set<string>();
  await fc.assert(
    fc.asyncProperty(fc.array(runArb, { minLength: 1, maxLength: 60, size: 'max' }), async (runs) => {
      const prefix = uniquePrefix('decider');
      const states = ACCOUNTS.map((account) => emptyLedgerState(account));
      const read = ACCOUNTS.map(() => 0);
      for (const [n, run] of runs.entries()) {
        const account = ACCOUNTS[run.on] as string;
        const state = states[run.on] as LedgerState;
        const what = `command ${n} on ${account}: ${JSON.stringify(run)}`;
        if ('compactedBefore' in run) {
          await redis.hset(ledgerStepsKey(account, prefix), COMPACTED_BEFORE, run.compactedBefore);
          state.compactedBefore = run.compactedBefore;
          continue;
        }
        const decision = decideLedger(state, run.command);
        seen.add(decision.kind === 'invalid' ? 'invalid' : `${decision.kind} ${decision.outcome}`);
        const reply = await runScript(redis, prefix, account, run.command);
        if ('failed' in reply) {
          assert.equal(
            { failed: reply.failed.replace(/^ERR /, '').replace(/ script: \w+, on @user_script:\d+\.$/, '') },
            describe(decision),
            what,
          );
        } else {
          assert.equal(replied(run.command, reply), describe(decision), what);
        }
        // The entries the script appended are the events the decider decided.
        const entries = (await readStream(redis, ledgerKey(account, prefix))).slice(read[run.on]);
        read[run.on] = (read[run.on] as number) + entries.length;
        const appended: LedgerEvent[] = entries.map(([, fields]) => {
          const decoded = decodeEntry(ledgerEvents, fields);
          if (!decoded.ok) throw new Error(`${what}: an entry does not decode: ${decoded.reason}`);
          return decoded.event;
        });
        assert.equal(appended, decision.kind === 'new' ? decision.events : [], `${what}: the events appended`);
        applyDecision(
          state,
          decision,
          entries.map(([id]) => id),
        );
        // What the script keeps is the decider's state.
        const kept = await redis.hgetall(ledgerStateKey(account, prefix));
        const { ledger } = state;
        assert.equal(
          kept.opened === undefined ? {} : { balance: kept.balance, seq: kept.seq },
          ledger.opened ? { balance: String(ledger.balance), seq: String(ledger.seq) } : {},
          `${what}: the state hash`,
        );
        const steps = await redis.hgetall(ledgerStepsKey(account, prefix));
        delete steps[COMPACTED_BEFORE];
        assert.equal(
          new Map(Object.entries(steps).map(([name, value]) => [name, keptOf(value)])),
          state.steps,
          `${what}: the steps hash`,
        );
        assert.ok(ledger.lowest >= 0 && ledger.gaps === 0, `${what}: never below zero, numbered without a gap`);
      }
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length > 0) await redis.del(...keys);
    }),
    { numRuns: 150, examples: [[EVERY_OUTCOME]] },
  );
  // Not vacuous: every outcome of every step came up, and so did repeats, changes and failures.
  for (const outcome of [
    'new opened',
    'repeat opened',
    'new issued',
    'repeat issued',
    'changed issued',
    'new debited',
    'new declined',
    'new credited',
    'new refunded',
    'repeat debited',
    'repeat refunded',
    'new refused unknown-account',
    'new refused compacted',
    'new refused no-debit',
    'new refused amount-mismatch',
    'invalid',
  ].filter((outcome) => !seen.has(outcome))) {
    assert.unreachable(`no command came out ${outcome}: ${[...seen].join(', ')}`);
  }
});

properties.run();
