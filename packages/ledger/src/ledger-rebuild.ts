/**
 * What the ledger scripts keep beside each ledger stream (`:state`: opened, balance, seq; `:steps`:
 * step -> outcome) is derived, not a second truth: here it is computed again from the streams
 * alone, compared with what Redis holds, and written back.
 *
 * Where each thing comes from:
 * - `:state`, and every step that appended an entry (`issue:`, `debit:` debited or declined,
 *   `credit:` credited, `refund:`): the account's own ledger stream (its fold, evolveLedger).
 * - `debit:<transfer>` -> `refused unknown-account` (nothing appended: the source was never
 *   opened): the transfers stream, a TransferRejected for unknown-account without a refund.
 * - `credit:<transfer>` -> `refused unknown-account` (nothing appended to the destination): the
 *   Refunded entry on the source's ledger (it names the transfer and the destination), and the
 *   transfers stream, a TransferRejected for unknown-account with a refund.
 * - `compacted-before`: the compaction's record (compactionKey's `before`), on every ledger
 *   rebuilt; the transfer steps whose entry lies before it are left out, as compaction removed them.
 *
 * Not derivable: a debit refused for an unknown source whose transfer was compacted (its
 * TransferRejected trimmed away; the script then answers `refused compacted`, which the saga never
 * runs past; such a source, named by no stream any more, is found only when asked for by name), and a refusal of a saga stopped before it settled and before any refund (no stream
 * says it yet; the saga run again decides that step afresh, and nothing had moved on its account).
 */
import {
  accountEvents,
  COMPACTED_BEFORE,
  compactionKey,
  type LedgerEvent,
  ledgerEvents,
  ledgerKey,
  ledgerStateKey,
  ledgerStepsKey,
  streamKey,
  supplyEvents,
  supplyKey,
  transferEvents,
  transfersKey,
} from '@microbank/events';
import { decodeEntry, entryPages, type StreamId, streamIdMillis } from '@microbank/streams';
import { emptyLedger, evolveLedger } from './ledger.ts';
import { type RedisClient, stepEntry } from './ledger-steps.ts';

/** What one ledger's `:state` and `:steps` hold: HGETALL of each (empty: no such key). */
export interface LedgerKeeping {
  state: Record<string, string>;
  steps: Record<string, string>;
}

const REFUSED = 'refused unknown-account';

/** The step an appended ledger entry records, and its outcome, as the scripts write them. */
function stepOf(event: LedgerEvent, id: StreamId): [field: string, outcome: string] | undefined {
  switch (event.type) {
    case 'Issued':
      return [`issue:${event.data.issuance}`, `issued ${id} ${event.data.amount}`];
    case 'Debited':
      return [`debit:${event.data.transfer}`, `debited ${id} ${event.data.amount}`];
    case 'DebitDeclined':
      return [`debit:${event.data.transfer}`, `declined ${id}`];
    case 'Credited':
      return [`credit:${event.data.transfer}`, `credited ${id}`];
    case 'Refunded':
      return [`refund:${event.data.transfer}`, `refunded ${id}`];
    case 'AccountOpened':
      return undefined;
  }
}

/** One ledger folded: its keeping from its own stream, and the credits its refunds say were refused. */
interface FoldedLedger extends LedgerKeeping {
  refusedCredits: Array<{ account: string; transfer: string }>;
}

async function foldLedger(redis: RedisClient, account: string, prefix?: string): Promise<FoldedLedger> {
  const ledger = emptyLedger();
  let opened: StreamId | undefined;
  const steps: Record<string, string> = {};
  const refusedCredits: FoldedLedger['refusedCredits'] = [];
  for await (const page of entryPages(redis, ledgerKey(account, prefix))) {
    for (const [id, fields] of page) {
      const decoded = decodeEntry(ledgerEvents, fields);
      if (!decoded.ok) throw new Error(`${account}'s ledger entry ${id} does not decode: ${decoded.reason}`);
      const { event } = decoded;
      evolveLedger(ledger, event, id);
      if (event.type === 'AccountOpened') opened ??= id;
      const step = stepOf(event, id);
      if (step) steps[step[0]] = step[1];
      if (event.type === 'Refunded') refusedCredits.push({ account: event.data.to, transfer: event.data.transfer });
    }
  }
  const state: Record<string, string> = {};
  if (opened !== undefined) {
    state.opened = opened;
    state.balance = String(ledger.balance);
    // A ledger of unnumbered (version-1) entries only has no seq yet: the scripts count its entries.
    if (ledger.numbered) state.seq = String(ledger.seq);
  }
  return { state, steps, refusedCredits };
}

/**
 * What the accounts, supply and transfers streams tell, each read once: every account they name
 * (registered, issued to, or party to a transfer), and the refusals the transfers stream shows
 * (account -> step -> `refused unknown-account`).
 */
async function readStreams(
  redis: RedisClient,
  prefix?: string,
): Promise<{ named: Set<string>; refusals: Map<string, Set<string>> }> {
  const named = new Set<string>();
  for await (const page of entryPages(redis, streamKey('accounts', prefix))) {
    for (const [, fields] of page) {
      const decoded = decodeEntry(accountEvents, fields);
      if (decoded.ok) named.add(decoded.event.data.account);
    }
  }
  for await (const page of entryPages(redis, supplyKey(prefix))) {
    for (const [, fields] of page) {
      const decoded = decodeEntry(supplyEvents, fields);
      if (decoded.ok) named.add(decoded.event.data.account);
    }
  }
  const parties = new Map<string, { from: string; to: string }>();
  const refusals = new Map<string, Set<string>>();
  for await (const page of entryPages(redis, transfersKey(prefix))) {
    for (const [, fields] of page) {
      const decoded = decodeEntry(transferEvents, fields);
      if (!decoded.ok) continue;
      const { event } = decoded;
      if (event.type === 'TransferRequested') {
        parties.set(event.data.transfer, event.data);
        named.add(event.data.from);
        named.add(event.data.to);
      }
      if (event.type !== 'TransferRejected' || event.data.reason !== 'unknown-account') continue;
      const party = parties.get(event.data.transfer);
      if (party === undefined) continue;
      // The saga refunds only after a refused credit; without a refund, its debit was refused.
      const [account, step] =
        event.data.refund === undefined
          ? [party.from, `debit:${event.data.transfer}`]
          : [party.to, `credit:${event.data.transfer}`];
      refusals.set(account, (refusals.get(account) ?? new Set()).add(step));
    }
  }
  return { named, refusals };
}

/**
 * What `:state` and `:steps` of each of `accounts` (default: every account the streams name)
 * should hold, from the streams alone. Reads every ledger the streams name: a refused credit is
 * told by the source's Refunded.
 */
export async function rebuildLedgerKeeping(
  redis: RedisClient,
  accounts?: readonly string[],
  prefix?: string,
): Promise<Map<string, LedgerKeeping>> {
  const { named, refusals } = await readStreams(redis, prefix);
  for (const account of accounts ?? []) named.add(account);
  const folded = new Map<string, FoldedLedger>();
  for (const account of named) folded.set(account, await foldLedger(redis, account, prefix));
  for (const ledger of [...folded.values()]) {
    for (const { account, transfer } of ledger.refusedCredits) {
      refusals.set(account, (refusals.get(account) ?? new Set()).add(`credit:${transfer}`));
      // A destination named by no other stream any more (its transfer compacted away).
      if (!folded.has(account)) folded.set(account, await foldLedger(redis, account, prefix));
    }
  }
  const before = (await redis.hget(compactionKey(prefix), 'before')) ?? undefined;
  const rebuilt = new Map<string, LedgerKeeping>();
  for (const account of accounts ?? folded.keys()) {
    const { state, steps } = folded.get(account) as FoldedLedger;
    for (const step of refusals.get(account) ?? []) steps[step] ??= REFUSED;
    if (before !== undefined) compactedSteps(steps, before);
    rebuilt.set(account, { state, steps });
  }
  return rebuilt;
}

/** Removes what compaction removed (compaction.ts): transfer steps whose entry lies before `before`. */
function compactedSteps(steps: Record<string, string>, before: StreamId): void {
  const beforeMs = streamIdMillis(before);
  for (const [field, outcome] of Object.entries(steps)) {
    const step = stepEntry(field, outcome);
    if (step && step.type !== 'Issued' && streamIdMillis(step.entry) < beforeMs) delete steps[field];
  }
  steps[COMPACTED_BEFORE] = before;
}

/** What Redis holds now for `account`'s ledger. */
export async function keptLedger(redis: RedisClient, account: string, prefix?: string): Promise<LedgerKeeping> {
  const [state, steps] = await Promise.all([
    redis.hgetall(ledgerStateKey(account, prefix)),
    redis.hgetall(ledgerStepsKey(account, prefix)),
  ]);
  return { state, steps };
}

/** One field that differs: what the streams say (`rebuilt`) and what Redis holds (`kept`); undefined: absent. */
export interface KeepingDifference {
  hash: 'state' | 'steps';
  field: string;
  rebuilt: string | undefined;
  kept: string | undefined;
}

/** The fields where `kept` differs from `rebuilt`, field by field. */
export function keepingDifferences(rebuilt: LedgerKeeping, kept: LedgerKeeping): KeepingDifference[] {
  const differences: KeepingDifference[] = [];
  for (const hash of ['state', 'steps'] as const) {
    const [want, have] = [rebuilt[hash], kept[hash]];
    for (const field of new Set([...Object.keys(want), ...Object.keys(have)])) {
      if (want[field] !== have[field]) differences.push({ hash, field, rebuilt: want[field], kept: have[field] });
    }
  }
  return differences;
}

/**
 * Replaces `account`'s `:state` and `:steps` with what the streams say, unless a script writes to
 * that ledger meanwhile: its stream, state and steps are WATCHed before the ledger is folded again,
 * and the replacement (one MULTI: the delete and the writes land together or not at all) is
 * dropped by Redis if any of them changed since. Tried `attempts` times; resolves to whether it
 * was written. `redis` must be a connection of the caller's own (WATCH holds per connection).
 * (A MULTI rather than temporary keys renamed over: an empty hash is a key that must be gone,
 * which RENAME cannot say, and a crash leaves no temporary key behind.)
 */
export async function rewriteLedgerKeeping(
  redis: RedisClient,
  account: string,
  prefix?: string,
  attempts = 5,
): Promise<boolean> {
  const [stream, state, steps] = [
    ledgerKey(account, prefix),
    ledgerStateKey(account, prefix),
    ledgerStepsKey(account, prefix),
  ];
  for (let attempt = 0; attempt < attempts; attempt++) {
    await redis.watch(stream, state, steps);
    const keeping = (await rebuildLedgerKeeping(redis, [account], prefix)).get(account) as LedgerKeeping;
    const multi = redis.multi().del(state, steps);
    if (Object.keys(keeping.state).length > 0) multi.hset(state, keeping.state);
    if (Object.keys(keeping.steps).length > 0) multi.hset(steps, keeping.steps);
    const replies = await multi.exec();
    if (replies === null) continue; // a watched key changed: fold again
    const failed = replies.find(([error]) => error !== null);
    if (failed) throw new Error(`rewriting ${account}'s ledger state failed: ${failed[0]}`);
    return true;
  }
  return false;
}
