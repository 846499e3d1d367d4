/**
 * One ledger checked from Redis alone: its stream folded by the one fold (evolveLedger), and what
 * the scripts keep beside it compared with that fold. What the state hash holds must be the fold
 * of the stream (so it can be rebuilt from it), every numbered entry must be written exactly as
 * encodeEvent writes its event, numbered one after the other, and the balance never below zero.
 * Tests, the chaos checker and the books can all ask the same question.
 */
import { ledgerEvents, ledgerKey, ledgerStateKey } from '@microbank/events';
import { decodeEntry, encodeEvent, entryPages, type StreamId } from '@microbank/streams';
import { emptyLedger, evolveLedger, type Ledger } from './ledger.ts';
import type { RedisClient } from './ledger-steps.ts';

export interface CheckedLedger {
  ledger: Ledger;
  /** The opening's entry ID, as the state hash must name it. */
  opening: StreamId | undefined;
  /** What is wrong, one sentence each; empty for a sound ledger. */
  problems: string[];
}

export async function checkLedger(redis: RedisClient, account: string, prefix?: string): Promise<CheckedLedger> {
  const ledger = emptyLedger();
  const problems: string[] = [];
  let opening: StreamId | undefined;
  for await (const page of entryPages(redis, ledgerKey(account, prefix))) {
    for (const [id, fields] of page) {
      const decoded = decodeEntry(ledgerEvents, fields);
      if (!decoded.ok) {
        problems.push(`${id}: ${decoded.reason}`);
        continue;
      }
      const { event } = decoded;
      if (event.data.seq !== undefined && encodeEvent(ledgerEvents, event).join('\n') !== fields.join('\n')) {
        problems.push(`${id}: not laid out as encodeEvent writes its ${event.type}`);
      }
      const [gaps, next] = [ledger.gaps, ledger.seq + 1];
      evolveLedger(ledger, event, id);
      if (ledger.gaps > gaps)
        problems.push(`${id}: ${event.type} numbered ${event.data.seq ?? 'not at all'}, not ${next}`);
      if (event.type === 'AccountOpened') opening ??= id;
    }
  }
  if (ledger.lowest < 0) problems.push(`the balance went down to ${ledger.lowest}`);
  const state = await redis.hgetall(ledgerStateKey(account, prefix));
  const expected: Record<string, string> =
    opening === undefined ? {} : { opened: opening, balance: String(ledger.balance), seq: String(ledger.seq) };
  // A ledger opened before entries were numbered has no seq in its state until its next entry.
  if (state.seq === undefined && !ledger.numbered) delete expected.seq;
  for (const field of new Set([...Object.keys(expected), ...Object.keys(state)])) {
    if (state[field] !== expected[field]) {
      problems.push(
        `the state's ${field} is ${state[field] ?? 'missing'}; the stream says ${expected[field] ?? 'none'}`,
      );
    }
  }
  return { ledger, opening, problems };
}
