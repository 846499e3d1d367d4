/**
 * After the monkey stops and the stack is quiet: did money behave? Read from the ledgers
 * themselves, every one from its first entry:
 *  - every transfer the API accepted (202) is on the transfers stream, the one request its key made
 *    (one not there is lost: acknowledged, then gone in a failover), and is completed or rejected;
 *    none of the processors' group's pending entries is left;
 *  - every transfer answered `503 indeterminate` ends with exactly one outcome: the definite answer
 *    it was retried into, or (the load stopped first) what GET /transfers/:id finds; its key made at
 *    most one request, and none when the definite answer was a refusal;
 *  - each transfer's debit and credit appear at most once each; a completed one has exactly one
 *    of each, on the right ledgers, of its amount; a rejected one has no credit, and a debit only
 *    together with its refund;
 *  - no balance was ever below zero, anywhere in any ledger's history;
 *  - the balances add up to the money issued into the ledgers exactly (nothing in flight once all
 *    settled), and that to the supply the bank's own stream records;
 *  - what the scripts keep beside each ledger (balance, seq, opening) is the fold of its stream;
 *  - the accounts' own GET /balance (their live projections) equals the fold from scratch, and
 *    balance's GET /audit says conserved with the same totals, no violation and nothing stuck.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  ledgerEvents,
  ledgerKey,
  PROCESSORS_GROUP,
  supplyEvents,
  supplyKey,
  transferEvents,
  transfersKey,
} from '@microbank/events';
import { checkLedger, emptyLedger, evolveLedger, type Ledger } from '@microbank/ledger';
import { accountsOf, type StackPlan, serviceUrl, stackCredential } from '@microbank/local-stack';
import { closeRedis, decodeEntry, type RedisClient, untilReady } from '@microbank/streams';
import { connectStackRedis } from './stack-redis.ts';
import type { AcceptedTransfer, IndeterminateTransfer } from './transfer-load.ts';

export interface MoneyVerdict {
  transfers: {
    accepted: number;
    completed: number;
    rejected: number;
    unsettled: string[];
    /** Accepted after more than one send (an answer lost), and of those, the ones requested once. */
    retried: number;
    retriedRequestedOnce: number;
    /** Accepted (202) and not on the transfers stream: an acknowledged transfer lost. */
    lost: string[];
  };
  /** The transfers answered indeterminate, by how each ended. */
  indeterminate: {
    transfers: number;
    /** Retried into a 202: checked as every accepted transfer is. */
    accepted: number;
    /** Retried into a refusal (a 4xx): the first request was lost, and nothing was made. */
    refused: number;
    /** The load stopped first: found by GET /transfers/:id with a definite status... */
    found: number;
    /** ...or not found, and its key made no request: it never stood. */
    neverMade: number;
    /** Ones with no single outcome (two requests for a key, a refusal for one that stands, ...), with why. */
    problems: string[];
  };
  pendingInGroup: number;
  /** Transfers whose ledger entries break a rule, with why. */
  wrongEntries: string[];
  /** Accounts whose balance was ever below zero, with the lowest. */
  negative: string[];
  /** Money put into the ledgers: every `Issued`, and the amounts of old `AccountOpened` v1 entries. */
  issuedIntoLedgers: number;
  balances: number;
  /** Accounts whose GET /balance differs from the fold of their ledger. */
  replayMismatches: string[];
  audit: { conserved: boolean; balances: number; supply: number; stuck: number; violations: unknown[] } | undefined;
  /** When balance's /audit never answered 200: its last answer. */
  auditUnanswered?: string;
  /** The bank's issued supply, summed from the supply stream on its own (SupplyIssued). */
  issued: number;
  /** Ledgers whose script-kept state (balance, seq, opening) is not the fold of their stream, with why. */
  stateMismatches: string[];
  conserved: boolean;
  passed: boolean;
}

interface Seen {
  debits: Array<{ account: string; amount: number }>;
  credits: Array<{ account: string; amount: number }>;
  refunds: Array<{ account: string; amount: number }>;
}

export async function verifyMoney(
  plan: StackPlan,
  accepted: readonly AcceptedTransfer[],
  quietMs: number,
  indeterminate: readonly IndeterminateTransfer[] = [],
): Promise<MoneyVerdict> {
  const redis = connectStackRedis(plan, 'chaos:money');
  try {
    await untilReady(redis, AbortSignal.timeout(quietMs));
    const deadline = Date.now() + quietMs;
    const pendingInGroup = await waitForEmptyGroup(redis, deadline);
    // Every key the load sent made exactly one request on the transfers stream, whatever the
    // number of sends: a retry after a lost answer never made a second transfer.
    const requestsByKey = new Map<string, string[]>();
    const transfers = (await redis.xrange(transfersKey(), '-', '+')) as Array<[string, string[]]>;
    // And on the stream itself, before any service's view of it: nothing settled that was never requested.
    const settledOnStream: Array<[string, string]> = [];
    for (const [id, fields] of transfers) {
      const decoded = decodeEntry(transferEvents, fields);
      if (!decoded.ok) continue;
      if (decoded.event.type !== 'TransferRequested') {
        settledOnStream.push([id, decoded.event.data.transfer]);
        continue;
      }
      const { key, transfer } = decoded.event.data;
      requestsByKey.set(key, [...(requestsByKey.get(key) ?? []), transfer]);
    }
    const requested = new Set([...requestsByKey.values()].flat());
    const wrongOnStream = settledOnStream
      .filter(([, transfer]) => !requested.has(transfer))
      .map(([id, transfer]) => `transfers stream ${id}: ${transfer} settled, never requested`);
    // A lost transfer has no status to wait for: only the ones on the stream are waited on.
    const statuses = await settledStatuses(
      plan,
      accepted.map((t) => (requested.has(t.transfer) ? t.transfer : undefined)),
      deadline,
    );

    const accounts = accountsOf(plan);
    const ledgers = new Map<string, Ledger>();
    const seen = new Map<string, Seen>();
    const seenOf = (transfer: string) => {
      let entry = seen.get(transfer);
      if (!entry) {
        entry = { debits: [], credits: [], refunds: [] };
        seen.set(transfer, entry);
      }
      return entry;
    };
    const wrongEntries: string[] = [];
    let issuedIntoLedgers = 0;
    for (const account of accounts) {
      const ledger = emptyLedger();
      const entries = (await redis.xrange(ledgerKey(account), '-', '+')) as Array<[string, string[]]>;
      for (const [id, fields] of entries) {
        const decoded = decodeEntry(ledgerEvents, fields);
        if (!decoded.ok) {
          wrongEntries.push(`${account} ${id}: ${decoded.reason}`);
          continue;
        }
        const event = decoded.event;
        evolveLedger(ledger, event, id);
        if (event.type === 'AccountOpened' || event.type === 'Issued') issuedIntoLedgers += event.data.amount ?? 0;
        if (event.type === 'Debited') seenOf(event.data.transfer).debits.push({ account, amount: event.data.amount });
        if (event.type === 'Credited') seenOf(event.data.transfer).credits.push({ account, amount: event.data.amount });
        if (event.type === 'Refunded') seenOf(event.data.transfer).refunds.push({ account, amount: event.data.amount });
      }
      ledgers.set(account, ledger);
    }

    wrongEntries.push(...wrongOnStream);
    let completed = 0;
    let rejected = 0;
    let retried = 0;
    let retriedRequestedOnce = 0;
    const unsettled: string[] = [];
    const lost: string[] = [];
    for (const [i, t] of accepted.entries()) {
      const status = statuses[i];
      const entries = seen.get(t.transfer) ?? { debits: [], credits: [], refunds: [] };
      const problem = (why: string) => wrongEntries.push(`${t.transfer} (${t.from} -> ${t.to}, ${t.amount}): ${why}`);
      const requests = requestsByKey.get(t.key) ?? [];
      const once = requests.length === 1 && requests[0] === t.transfer;
      if (!requested.has(t.transfer)) lost.push(`${t.transfer} (key ${t.key}, ${t.from} -> ${t.to}, ${t.amount})`);
      if (!once) problem(`its key ${t.key} made ${requests.length} requests (${requests.join(', ')})`);
      if (t.sends > 1) {
        retried++;
        if (once) retriedRequestedOnce++;
      }
      if (entries.debits.length > 1) problem(`debited ${entries.debits.length} times`);
      if (entries.credits.length > 1) problem(`credited ${entries.credits.length} times`);
      if (entries.refunds.length > 1) problem(`refunded ${entries.refunds.length} times`);
      if (status === 'completed') {
        completed++;
        const [debit] = entries.debits;
        const [credit] = entries.credits;
        if (debit?.account !== t.from || debit.amount !== t.amount) problem('completed without its debit');
        if (credit?.account !== t.to || credit.amount !== t.amount) problem('completed without its credit');
        if (entries.refunds.length > 0) problem('completed and refunded');
      } else if (status === 'rejected') {
        rejected++;
        if (entries.credits.length > 0) problem('rejected but credited');
        if (entries.debits.length !== entries.refunds.length) problem('rejected with a debit not given back');
      } else if (requested.has(t.transfer)) {
        unsettled.push(t.transfer);
      }
    }
    const uncertain = await indeterminateOutcomes(plan, indeterminate, requestsByKey, deadline);
    // Transfers this run did not make (before it, by hand): at most one of each step, never both ways.
    const acceptedIds = new Set(accepted.map((t) => t.transfer));
    for (const [transfer, entries] of seen) {
      if (acceptedIds.has(transfer)) continue;
      const { debits, credits, refunds } = entries;
      if (debits.length > 1 || credits.length > 1 || refunds.length > 1 || (credits.length > 0 && refunds.length > 0)) {
        wrongEntries.push(`${transfer}: ${debits.length} debits, ${credits.length} credits, ${refunds.length} refunds`);
      }
    }

    // The supply, from the bank's own stream: each ledger's issued money must add up to it.
    let issued = 0;
    for (const [id, fields] of (await redis.xrange(supplyKey(), '-', '+')) as Array<[string, string[]]>) {
      const decoded = decodeEntry(supplyEvents, fields);
      if (decoded.ok) issued += decoded.event.data.amount;
      else wrongEntries.push(`supply ${id}: ${decoded.reason}`);
    }
    // What the scripts keep beside each stream must be the fold of that stream.
    const stateMismatches: string[] = [];
    for (const account of accounts) {
      const { problems } = await checkLedger(redis, account);
      for (const problem of problems) stateMismatches.push(`${account}: ${problem}`);
    }

    const negative = [...ledgers]
      .filter(([, ledger]) => ledger.lowest < 0)
      .map(([account, ledger]) => `${account} (lowest ${ledger.lowest})`);
    const balances = [...ledgers.values()].reduce((sum, ledger) => sum + ledger.balance, 0);
    const replayMismatches = await compareLiveBalances(plan, ledgers, deadline);
    const { figures: audit, unanswered: auditUnanswered } = await auditFigures(plan, balances, deadline);
    const conserved =
      balances === issuedIntoLedgers &&
      issuedIntoLedgers === issued &&
      audit?.conserved === true &&
      audit.balances === balances &&
      audit.supply === issued;
    const passed =
      conserved &&
      stateMismatches.length === 0 &&
      audit?.stuck === 0 &&
      unsettled.length === 0 &&
      lost.length === 0 &&
      uncertain.problems.length === 0 &&
      pendingInGroup === 0 &&
      wrongEntries.length === 0 &&
      negative.length === 0 &&
      replayMismatches.length === 0;
    return {
      transfers: { accepted: accepted.length, completed, rejected, unsettled, retried, retriedRequestedOnce, lost },
      indeterminate: uncertain,
      pendingInGroup,
      wrongEntries,
      negative,
      issuedIntoLedgers,
      issued,
      balances,
      replayMismatches,
      stateMismatches,
      audit,
      ...(auditUnanswered !== undefined && { auditUnanswered }),
      conserved,
      passed,
    };
  } finally {
    await closeRedis(redis);
  }
}

/** How each transfer answered indeterminate ended: one outcome each, or a problem named. */
async function indeterminateOutcomes(
  plan: StackPlan,
  indeterminate: readonly IndeterminateTransfer[],
  requestsByKey: ReadonlyMap<string, string[]>,
  deadline: number,
): Promise<MoneyVerdict['indeterminate']> {
  const result = {
    transfers: indeterminate.length,
    accepted: 0,
    refused: 0,
    found: 0,
    neverMade: 0,
    problems: [] as string[],
  };
  for (const t of indeterminate) {
    const requests = requestsByKey.get(t.key) ?? [];
    const problem = (why: string) =>
      result.problems.push(`key ${t.key} (answered indeterminate as ${t.ids.join(', ')}): ${why}`);
    if (requests.length > 1) problem(`${requests.length} transfers for one key (${requests.join(', ')})`);
    const { outcome } = t;
    if (outcome && 'transfer' in outcome) {
      // Checked with the accepted ones (on the stream, settled once); here only that it is the key's.
      result.accepted++;
      if (requests.length === 1 && requests[0] !== outcome.transfer)
        problem(`retried into ${outcome.transfer}, but its key's request is ${requests[0]}`);
    } else if (outcome) {
      result.refused++;
      if (requests.length > 0)
        problem(`refused (${outcome.status} ${outcome.text}) after retrying, yet ${requests[0]} stands`);
    } else if (requests.length === 0) {
      const [status] = await settledStatuses(plan, [t.ids.at(-1)], Date.now());
      if (status === undefined) result.neverMade++;
      else problem(`GET /transfers/${t.ids.at(-1)} finds it ${status}, yet its key made no request`);
    } else {
      const [status] = await settledStatuses(plan, [requests[0]], deadline);
      if (status === 'completed' || status === 'rejected') result.found++;
      else problem(`its request ${requests[0]} is ${status ?? 'not found'} by GET /transfers/:id`);
    }
  }
  return result;
}

/**
 * Each transfer's status once settled (or as it stands at the deadline); undefined for one not
 * asked (undefined in `transfers`) or never found. A deadline already passed asks once.
 */
async function settledStatuses(
  plan: StackPlan,
  transfers: ReadonlyArray<string | undefined>,
  deadline: number,
): Promise<Array<string | undefined>> {
  const statuses: Array<string | undefined> = [];
  const authorization = `Bearer ${stackCredential(plan.dataDir)}`;
  for (const transfer of transfers) {
    let status: string | undefined;
    for (let asked = false; transfer !== undefined && (!asked || Date.now() < deadline); asked = true) {
      try {
        const response = await fetch(serviceUrl(plan, 'transfer-1', `/transfers/${transfer}`), {
          headers: { authorization },
          signal: AbortSignal.timeout(2_000),
        });
        if (response.ok) status = ((await response.json()) as { status: string }).status;
        else await response.body?.cancel();
      } catch {
        // the service is still coming back
      }
      if (status === 'completed' || status === 'rejected') break;
      await sleep(100);
    }
    statuses.push(status);
  }
  return statuses;
}

async function waitForEmptyGroup(redis: RedisClient, deadline: number): Promise<number> {
  for (;;) {
    const [pending] = (await redis.xpending(transfersKey(), PROCESSORS_GROUP)) as [number];
    if (pending === 0 || Date.now() >= deadline) return pending;
    await sleep(100);
  }
}

/** Each account's GET /balance at its ledger's end (waiting, up to the deadline, for one not ready) against the fold. */
async function compareLiveBalances(plan: StackPlan, ledgers: Map<string, Ledger>, deadline: number): Promise<string[]> {
  const mismatches: string[] = [];
  for (const [account, ledger] of ledgers) {
    const position = ledger.position ?? '0-0';
    let answer = 'no answer';
    for (let asked = false; !asked || Date.now() < deadline; asked = true) {
      try {
        const response = await fetch(serviceUrl(plan, account, `/balance?position=${position}`), {
          signal: AbortSignal.timeout(5_000),
        });
        const text = await response.text();
        if (response.ok) {
          const { balance } = JSON.parse(text) as { balance: number };
          answer = balance === ledger.balance ? 'same' : `serves ${balance}, its ledger folds to ${ledger.balance}`;
          break;
        }
        answer = `answers ${response.status} ${text.slice(0, 160)}`;
      } catch (error) {
        answer = `no balance (${(error as Error).message})`;
      }
      await sleep(200);
    }
    if (answer !== 'same') mismatches.push(`${account}: ${answer}`);
  }
  return mismatches;
}

/** balance's audit once it has read everything (its balances equal the fold's), or as it stands. */
async function auditFigures(
  plan: StackPlan,
  balances: number,
  deadline: number,
): Promise<{ figures?: MoneyVerdict['audit']; unanswered?: string }> {
  let figures:
    | {
        conserved: boolean;
        balances: number;
        supply: { total: number };
        inFlight: { amount: number };
        stuck: { transfers: number; issuances: number };
        violations: { count: number; first: unknown[] };
      }
    | undefined;
  let unanswered = 'no answer';
  // Its own few seconds at least: a long run's statuses may have taken the quiet time already.
  const until = Math.max(deadline, Date.now() + 10_000) + 5_000;
  while (Date.now() < until) {
    try {
      const response = await fetch(serviceUrl(plan, 'balance', '/audit'), { signal: AbortSignal.timeout(2_000) });
      if (response.ok) figures = (await response.json()) as typeof figures;
      else unanswered = `${response.status} ${(await response.text()).slice(0, 200)}`;
    } catch (error) {
      unanswered = (error as Error).message;
    }
    if (figures && figures.balances === balances && figures.inFlight.amount === 0) break;
    await sleep(100);
  }
  if (!figures) return { unanswered };
  return {
    figures: {
      conserved: figures.conserved,
      balances: figures.balances,
      supply: figures.supply.total,
      stuck: figures.stuck.transfers + figures.stuck.issuances,
      violations: figures.violations.first,
    },
  };
}
