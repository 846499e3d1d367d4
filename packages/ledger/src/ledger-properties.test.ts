/**
 * The ledger's rules as properties (fast-check), run against a real Redis: random interleavings of
 * transfers' steps across a few accounts, steps delivered twice, sagas abandoned halfway (a
 * processor that died) and resumed later from their first step (the one that claims them), money
 * issued and issuances tried again or changed, a ledger opened late. Each run uses its own key
 * prefix. After each run, read from Redis alone: no balance ever below zero, every step applied
 * at most once, balances + money debited and neither credited nor refunded = the issued supply,
 * every ledger numbered 1, 2, 3... and its state hash the fold of its stream. The sequential
 * property also holds every outcome to the ledger's decider (ledger-decider.ts).
 */
import { ledgerEvents, ledgerKey, ledgerStepsKey, supplyEvents, supplyKey } from '@microbank/events';
import { connectRedis, decodeEntry, silentLog } from '@microbank/streams';
import { readStream, redisSuite, uniquePrefix } from '@microbank/testing';
import fc from 'fast-check';
import type { Redis } from 'ioredis';
import * as assert from 'uvu/assert';
import { checkLedger } from './ledger-check.ts';
import {
  applyDecision,
  decideLedger,
  emptyLedgerState,
  type LedgerCommand,
  type LedgerState,
} from './ledger-decider.ts';
import {
  type CreditOutcome,
  credit,
  type DebitOutcome,
  debit,
  type Issuance,
  IssuanceChangedError,
  openLedger,
  refund,
  type Transfer,
} from './ledger-steps.ts';
import { issueSupply } from './supply.ts';

const properties = redisSuite('ledger properties', {
  connect: (url) => connectRedis(url, 'test', silentLog),
});

/** Issued money at the start; `late` opens only when a run says so; `ghost` never does. */
const FUNDED = ['a-account', 'b-account', 'c-account'];
const ACCOUNTS = [...FUNDED, 'late-account', 'ghost-account'];

// ---- the reference: the ledger's decider (ledger-decider.ts), and the supply's one rule ----

type StepOutcome = DebitOutcome['kind'] | CreditOutcome['kind'] | 'refunded';

interface Model {
  /** Each account's ledger as the decider keeps it. */
  ledgers: Map<string, LedgerState>;
  /** The supply stream's issuances: each made once, never changed. */
  issuances: Map<string, Issuance>;
  supply: number;
}

const emptyModel = (): Model => ({
  ledgers: new Map(ACCOUNTS.map((account) => [account, emptyLedgerState(account)])),
  issuances: new Map(),
  supply: 0,
});
const ledgerOf = (model: Model, account: string) => model.ledgers.get(account) as LedgerState;
const balanceIn = (model: Model, account: string) => ledgerOf(model, account).ledger.balance;

/** Decides `command` on `account`'s ledger and keeps it, at the positions the scripts gave (placeholders where none is read). */
function decideOn(model: Model, account: string, command: LedgerCommand, positions: string[]) {
  const state = ledgerOf(model, account);
  const decision = decideLedger(state, command);
  if (decision.kind === 'invalid')
    throw new Error(`the decider refuses ${JSON.stringify(command)}: ${decision.reason}`);
  applyDecision(state, decision, positions);
  return decision;
}

function modelOpen(model: Model, account: string): void {
  decideOn(model, account, { type: 'open', account }, ['0-1']);
}

/** 'changed' when the issuance was made with another account or amount: nothing happens. */
function modelIssue(model: Model, i: Issuance): 'new' | 'repeat' | 'changed' {
  const first = model.issuances.get(i.issuance);
  if (first) return first.account === i.account && first.amount === i.amount ? 'repeat' : 'changed';
  model.issuances.set(i.issuance, i);
  decideOn(model, i.account, { type: 'issue', ...i }, ['0-1', '0-2']);
  model.supply += i.amount;
  return 'new';
}

/** What the decider decides for a saga's step, kept at `position` (the one the script gave). */
function modelStep(
  model: Model,
  step: 'debit' | 'credit' | 'refund',
  t: Transfer,
  debitPosition: string,
  position: string | undefined,
): StepOutcome {
  const { transfer, from, to, amount } = t;
  const decision =
    step === 'debit'
      ? decideOn(model, from, { type: 'debit', transfer, to, amount }, [position ?? ''])
      : step === 'credit'
        ? decideOn(model, to, { type: 'credit', transfer, from, amount, debit: debitPosition }, [position ?? ''])
        : decideOn(model, from, { type: 'refund', transfer, to, amount }, [position ?? '']);
  if (decision.kind !== 'new') throw new Error(`the decider says ${step} of ${transfer} was ${decision.kind}`);
  return decision.outcome === 'refused unknown-account' ? 'refused' : (decision.outcome as StepOutcome);
}

/** Every transfer step the decider kept, on every ledger. */
const modelSteps = (model: Model) =>
  [...model.ledgers.values()].flatMap((state) => [...state.steps.keys()].filter((name) => !name.startsWith('issue:')));

// ---- one transfer's saga, step by step, as a processor runs it (saga.ts) ----

type Step = { step: 'debit' | 'credit' | 'refund'; kind: StepOutcome; position: string | undefined };

/** The next step of a saga whose steps so far had these outcomes; undefined when it is over. */
function nextStep(done: readonly Step[]): Step['step'] | undefined {
  const [debited, credited] = done;
  if (debited === undefined) return 'debit';
  if (debited.kind !== 'debited') return undefined;
  if (credited === undefined) return 'credit';
  if (credited.kind === 'refused' && done.length === 2) return 'refund';
  return undefined;
}

async function runStep(redis: Redis, prefix: string, t: Transfer, step: Step['step'], done: readonly Step[]) {
  if (step === 'debit') {
    const { outcome, repeated } = await debit(redis, t, prefix);
    return { kind: outcome.kind, position: 'position' in outcome ? outcome.position : undefined, repeated };
  }
  if (step === 'credit') {
    const { outcome, repeated } = await credit(redis, t, done[0]?.position ?? '', prefix);
    return { kind: outcome.kind, position: 'position' in outcome ? outcome.position : undefined, repeated };
  }
  const { outcome, repeated } = await refund(redis, t, prefix);
  return { kind: 'refunded' as const, position: outcome, repeated };
}

// ---- what must hold, read from Redis alone ----

interface Books {
  balances: Map<string, number>;
  supply: number;
  inFlight: number;
}

async function assertBooks(redis: Redis, prefix: string, what: string): Promise<Books> {
  const balances = new Map<string, number>();
  const applied = new Map<string, number>();
  let inFlight = 0;
  let issued = 0;
  for (const account of ACCOUNTS) {
    const checked = await checkLedger(redis, account, prefix);
    assert.equal(checked.problems, [], `${what}: ${account}'s ledger is sound`);
    balances.set(account, checked.ledger.balance);
    issued += checked.ledger.issued;
    for (const [, fields] of await readStream(redis, ledgerKey(account, prefix))) {
      const decoded = decodeEntry(ledgerEvents, fields);
      if (!decoded.ok) continue;
      const { event } = decoded;
      const id = event.type === 'Issued' ? `Issued ${event.data.issuance} on ${account}` : '';
      const step = 'transfer' in event.data ? `${event.type} ${event.data.transfer}` : id;
      if (step) applied.set(step, (applied.get(step) ?? 0) + 1);
      if (event.type === 'Debited') inFlight += event.data.amount;
      if (event.type === 'Credited' || event.type === 'Refunded') inFlight -= event.data.amount;
    }
  }
  for (const [step, times] of applied) assert.is(times, 1, `${what}: ${step} applied once`);
  let supply = 0;
  for (const [, fields] of await readStream(redis, supplyKey(prefix))) {
    const decoded = decodeEntry(supplyEvents, fields);
    assert.ok(decoded.ok, `${what}: the supply stream decodes`);
    if (decoded.ok) supply += decoded.event.data.amount;
  }
  assert.is(issued, supply, `${what}: the ledgers hold what the supply stream issued`);
  let total = 0;
  for (const balance of balances.values()) total += balance;
  assert.ok(inFlight >= 0, `${what}: no credit or refund without its debit`);
  assert.is(total + inFlight, supply, `${what}: balances ${total} + in flight ${inFlight} = supply ${supply}`);
  return { balances, supply, inFlight };
}

// ---- the runs ----

const transferArb = fc
  .record({
    transfer: fc.uuid({ version: 4 }),
    from: fc.constantFrom(...ACCOUNTS),
    to: fc.constantFrom(...ACCOUNTS),
    amount: fc.integer({ min: 1, max: 60 }),
  })
  .filter((t) => t.from !== t.to);

type Command =
  | { kind: 'advance'; t: number }
  | { kind: 'resume'; t: number }
  | { kind: 'duplicate'; t: number; step: number }
  | { kind: 'open' }
  | { kind: 'issue'; id: number; account: number; amount: number };

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('advance' as const), t: fc.nat(7) }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('resume' as const), t: fc.nat(7) }) },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('duplicate' as const), t: fc.nat(7), step: fc.nat(2) }),
  },
  { weight: 1, arbitrary: fc.constant({ kind: 'open' as const }) },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('issue' as const),
      id: fc.nat(2),
      account: fc.nat(3),
      amount: fc.integer({ min: 1, max: 3 }),
    }),
  },
);

const runArb = fc.record({
  openings: fc.array(fc.integer({ min: 0, max: 100 }), { minLength: 3, maxLength: 3 }),
  transfers: fc.uniqueArray(transferArb, { selector: (t) => t.transfer, minLength: 1, maxLength: 8 }),
  commands: fc.array(commandArb, { minLength: 1, maxLength: 40 }),
});

properties(
  'steps delivered in any order, twice, or abandoned and resumed: the rules of the model hold',
  async (ctx) => {
    await fc.assert(
      fc.asyncProperty(runArb, async ({ openings, transfers, commands }) => {
        const { redis } = ctx;
        const prefix = uniquePrefix('prop');
        const model = emptyModel();
        const sagas = transfers.map(() => [] as Step[]);

        const issueAs = async (i: Issuance) => {
          const expected = modelIssue(model, i);
          const outcome = await issueSupply(redis, i, prefix).then(
            (made) => (made.recorded.repeated && made.issued.repeated ? 'repeat' : 'new'),
            (error: unknown) => {
              if (error instanceof IssuanceChangedError) return 'changed';
              throw error;
            },
          );
          assert.is(outcome, expected, `issuance ${JSON.stringify(i)}`);
        };
        /** Runs step `index` of saga `s` (a new one, or one done before: then its first outcome, again). */
        const step = async (s: number, index: number) => {
          const t = transfers[s] as Transfer;
          const done = sagas[s] as Step[];
          const which = index < done.length ? done[index]?.step : nextStep(done);
          if (which === undefined) return;
          const got = await runStep(redis, prefix, t, which, done);
          const before = done[index];
          if (before === undefined) {
            assert.is(got.repeated, false, `${which} of ${t.transfer} is new`);
            const decided = modelStep(model, which, t, done[0]?.position ?? '', got.position);
            assert.is(got.kind, decided, `${which} of ${JSON.stringify(t)} as the decider decides`);
            done.push({ step: which, kind: got.kind, position: got.position });
          } else {
            assert.equal([got.repeated, got.kind, got.position], [true, before.kind, before.position], 'decided once');
          }
        };
        /** A processor picking the saga up from its first step, as one that claims it does. */
        const resume = async (s: number) => {
          const length = (sagas[s] as Step[]).length;
          for (let index = 0; index <= length; index++) await step(s, index);
        };

        for (const [at, amount] of openings.entries()) {
          const account = FUNDED[at] as string;
          if (amount > 0) await issueAs({ issuance: `opening:${account}`, account, amount });
        }
        for (const command of commands) {
          const s = 't' in command ? command.t % transfers.length : 0;
          if (command.kind === 'advance') await step(s, (sagas[s] as Step[]).length);
          else if (command.kind === 'resume') await resume(s);
          else if (command.kind === 'duplicate') {
            if (command.step < (sagas[s] as Step[]).length) await step(s, command.step);
          } else if (command.kind === 'open') {
            await openLedger(redis, 'late-account', prefix);
            modelOpen(model, 'late-account');
          } else {
            const account = [...FUNDED, 'late-account'][command.account] as string;
            await issueAs({ issuance: `gift-${command.id}`, account, amount: command.amount });
          }
        }
        // Sagas abandoned halfway: the books balance with the money in flight.
        const halfway = await assertBooks(redis, prefix, 'halfway');
        assert.is(halfway.supply, model.supply);
        for (const account of ACCOUNTS) assert.is(halfway.balances.get(account), balanceIn(model, account), account);
        // Every saga resumed by another processor, from its first step, to its end.
        for (const s of sagas.keys()) {
          while (nextStep(sagas[s] as Step[]) !== undefined) await resume(s);
        }
        const settled = await assertBooks(redis, prefix, 'settled');
        assert.is(settled.inFlight, 0, 'nothing in flight once every saga has ended');
        for (const account of ACCOUNTS) assert.is(settled.balances.get(account), balanceIn(model, account), account);
        // The steps hashes hold what the model decided, nothing more.
        const kept = new Map<string, string>();
        for (const account of ACCOUNTS) {
          for (const [key, outcome] of Object.entries(await redis.hgetall(ledgerStepsKey(account, prefix)))) {
            if (!key.startsWith('issue:')) kept.set(key, outcome.split(' ')[0] === 'refused' ? 'refused' : '');
          }
        }
        assert.equal([...kept.keys()].sort(), modelSteps(model).sort(), 'the steps kept are the steps decided');
        await redis.del(...(await redis.keys(`${prefix}:*`)));
      }),
      { numRuns: 80 },
    );
  },
);

properties(
  'processors racing on the same sagas, dying anywhere: nothing moves twice, the books balance',
  async (ctx) => {
    const sagaArb = fc.record({
      transfer: transferArb,
      /** Each processor that runs the saga, and how many of its steps it gets through before it dies. */
      processors: fc.array(fc.nat(3), { minLength: 1, maxLength: 3 }),
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.integer({ min: 0, max: 100 }), { minLength: 3, maxLength: 3 }),
        fc.uniqueArray(sagaArb, { selector: (saga) => saga.transfer.transfer, minLength: 1, maxLength: 8 }),
        async (openings, sagas) => {
          const { redis } = ctx;
          const prefix = uniquePrefix('race');
          for (const [at, amount] of openings.entries()) {
            const account = FUNDED[at] as string;
            if (amount > 0) await issueSupply(redis, { issuance: `opening:${account}`, account, amount }, prefix);
          }
          await openLedger(redis, 'late-account', prefix);
          /** Every outcome any processor saw, per saga and step: all must agree. */
          const seen = sagas.map(() => new Map<string, Set<string>>());
          const runUpTo = async (s: number, steps: number) => {
            const t = sagas[s]?.transfer as Transfer;
            const done: Step[] = [];
            for (let step = nextStep(done); step !== undefined && done.length < steps; step = nextStep(done)) {
              const got = await runStep(redis, prefix, t, step, done);
              done.push({ step, kind: got.kind, position: got.position });
              const outcomes = seen[s]?.get(step) ?? new Set<string>();
              seen[s]?.set(step, outcomes.add(`${got.kind} ${got.position}`));
            }
          };
          await Promise.all(sagas.flatMap(({ processors }, s) => processors.map((steps) => runUpTo(s, steps))));
          await assertBooks(redis, prefix, 'after the race');
          for (const s of sagas.keys()) await runUpTo(s, 3);
          const settled = await assertBooks(redis, prefix, 'settled');
          assert.is(settled.inFlight, 0, 'nothing in flight once every saga has ended');
          for (const [s, steps] of seen.entries()) {
            for (const [step, outcomes] of steps) assert.is(outcomes.size, 1, `saga ${s}'s ${step} decided once`);
          }
          await redis.del(...(await redis.keys(`${prefix}:*`)));
        },
      ),
      { numRuns: 50 },
    );
  },
);

properties.run();
