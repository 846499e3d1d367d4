/**
 * The books' look at what the ledger scripts keep beside the streams, every few seconds and a few
 * ledgers at a time (bounded work per pass, whatever the number of ledgers):
 *  - the state hash (opened, balance, seq) and the steps hash's size, read atomically with the
 *    ledger's last entry ID (MULTI), are compared with the audit's fold when the fold is exactly
 *    at that entry (Audit.compareKept);
 *  - a slice of the steps hash (HSCAN, resumed at the next pass) is checked against the stream:
 *    each step that names an entry the fold has passed must name an entry of that ledger, of the
 *    step's type, for the step's transfer or issuance (and amount);
 *  - the compaction point (a compaction archives and trims the transfers stream before it), so
 *    that the ledger entries of archived transfers are not taken for entries of unrequested ones;
 *  - the transfers and supply streams: when the books have read them to their last entry, the
 *    audit learns that everything appended before Redis's TIME has been read (Audit.readThrough),
 *    so that a ledger entry naming a transfer never requested is found while those streams are idle.
 */

import { COMPACTED_BEFORE, decodeLedgerEntry, ledgerKey, ledgerStateKey, ledgerStepsKey } from '@microbank/events';
import {
  compareStreamIds,
  errorMessage,
  type Log,
  type Projection,
  type RedisClient,
  STREAM_START,
  type StreamId,
} from '@microbank/streams';
import type { Audit } from './audit.ts';
import { type StepEntry, stepEntry } from './ledger-steps.ts';

/** What one pass looks at: this many ledgers, and this many steps of each. */
const PER_PASS = { ledgers: 32, steps: 64 } as const;

export interface StateCheckOptions {
  redis: RedisClient;
  audit: Audit;
  projection: Projection;
  log: Log;
  /** The key prefix of the books' streams. */
  prefix?: string;
  transfers: string;
  supply: string;
  /** The key of the last compaction's record (its point: field `before`). */
  compaction: string;
  everyMs: number;
}

export interface StateCheck {
  /** Runs one pass now (tests); resolves when it is done. */
  pass(): Promise<void>;
  stop(): Promise<void>;
}

export function startStateCheck(options: StateCheckOptions): StateCheck {
  const { redis, audit, projection, log, prefix, transfers, supply, compaction, everyMs } = options;
  /** Where each ledger's steps hash scan goes on from. */
  const cursors = new Map<string, string>();
  let next = 0;
  let failing = false;
  let running: Promise<void> | undefined;
  let stopped = false;

  /**
   * Tells the audit which of the transfers and supply streams it has read through, and when (the
   * time of the stream's own Redis, read with its last entry). One transaction per stream: on a
   * cluster they are in two slots. The compaction point (in the transfers' slot) comes first: what
   * is behind it is not read, and not missing.
   */
  async function readThrough(): Promise<void> {
    for (const [stream, kind] of [
      [transfers, 'transfers'],
      [supply, 'supply'],
    ] as const) {
      const transaction = redis.multi();
      if (kind === 'transfers') transaction.hget(compaction, 'before');
      const replies = (await transaction.time().xrevrange(stream, '+', '-', 'COUNT', 1).exec()) as Array<
        [Error | null, unknown]
      >;
      const [time, latest] = kind === 'transfers' ? replies.slice(1) : replies;
      const point = kind === 'transfers' ? replies[0]?.[1] : undefined;
      if (typeof point === 'string') audit.compactedBefore(point);
      const [seconds, micros] = (time?.[1] ?? []) as [string, string];
      const now = Number(seconds) * 1_000 + Math.floor(Number(micros) / 1_000);
      const last = ((latest?.[1] ?? []) as Array<[StreamId, string[]]>)[0]?.[0];
      const read = projection.positions.get(stream) ?? STREAM_START;
      if (last === undefined || compareStreamIds(last, read) <= 0) audit.readThrough(kind, now);
    }
  }

  async function checkKept(account: string): Promise<void> {
    const stream = ledgerKey(account, prefix);
    const mark = audit.mark();
    const replies = (await redis
      .multi()
      .hgetall(ledgerStateKey(account, prefix))
      .hlen(ledgerStepsKey(account, prefix))
      .hget(ledgerStepsKey(account, prefix), COMPACTED_BEFORE)
      .xrevrange(stream, '+', '-', 'COUNT', 1)
      .exec()) as Array<[Error | null, unknown]>;
    for (const [error] of replies) if (error) throw error;
    const state = replies[0]?.[1] as Record<string, string>;
    const compactedBefore = (replies[2]?.[1] ?? undefined) as string | undefined;
    // The compaction point is a field of the steps hash, not a step.
    const steps = Number(replies[1]?.[1]) - (compactedBefore === undefined ? 0 : 1);
    const last = ((replies[3]?.[1] ?? []) as Array<[StreamId, string[]]>)[0]?.[0];
    if (last === undefined) return;
    const kept = { state, steps, ...(compactedBefore === undefined ? {} : { compactedBefore }) };
    audit.compareKept(account, kept, last, mark);
    if (compareStreamIds(audit.position(account) ?? STREAM_START, last) < 0) {
      // Consumed but not applied up to `last` (its last entries skipped): compared then.
      void projection
        .waitForPosition(last, everyMs, stream)
        .then((reached) => {
          if (reached) audit.keptConsumed(account, last);
        })
        .catch(() => {});
    }
  }

  async function checkSteps(account: string): Promise<void> {
    const stream = ledgerKey(account, prefix);
    const [cursor, flat] = await redis.hscan(
      ledgerStepsKey(account, prefix),
      cursors.get(account) ?? '0',
      'COUNT',
      PER_PASS.steps,
    );
    const folded = audit.position(account) ?? STREAM_START;
    const named: Array<{ field: string; outcome: string; expected: StepEntry }> = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const field = flat[i] as string;
      const outcome = flat[i + 1] as string;
      const expected = stepEntry(field, outcome);
      if (expected === null) continue;
      if (expected === undefined) {
        audit.violationOnce(`${account}\n${field}`, {
          ledger: account,
          reason: `the steps hash holds ${field} -> ${outcome}, which no ledger script writes`,
        });
        continue;
      }
      // Entries the fold has not reached yet are looked at in a later pass.
      if (compareStreamIds(expected.entry, folded) <= 0) named.push({ field, outcome, expected });
    }
    if (named.length > 0) await checkNamed(account, stream, named);
    // Only once its page is checked: a page whose entries could not be read is scanned again.
    cursors.set(account, cursor);
  }

  async function checkNamed(
    account: string,
    stream: string,
    named: Array<{ field: string; outcome: string; expected: StepEntry }>,
  ): Promise<void> {
    const pipeline = redis.pipeline();
    for (const { expected } of named) pipeline.xrangeBuffer(stream, expected.entry, expected.entry);
    const replies = ((await pipeline.exec()) ?? []) as Array<[Error | null, unknown]>;
    if (replies.length !== named.length) throw new Error('the entries named by the steps hash went unanswered');
    for (const [error] of replies) if (error) throw error;
    named.forEach(({ field, outcome, expected }, i) => {
      const entries = replies[i]?.[1] as Array<[Buffer, Buffer[]]>;
      const subject = field.slice(field.indexOf(':') + 1);
      const fields = entries[0]?.[1];
      const decoded = fields ? decodeLedgerEntry(fields) : undefined;
      let problem: string | undefined;
      if (!decoded) problem = 'which the stream does not hold';
      else if (!decoded.ok) problem = `which does not read (${decoded.reason})`;
      else {
        const { event } = decoded;
        const data = event.data as { transfer?: string; issuance?: string; amount?: number };
        if (event.type !== expected.type) problem = `which is ${event.type}, not ${expected.type}`;
        else if ((data.transfer ?? data.issuance) !== subject)
          problem = `which is for ${data.transfer ?? data.issuance}`;
        else if (expected.amount !== undefined && data.amount !== expected.amount)
          problem = `which is of ${data.amount}`;
      }
      if (problem) {
        audit.violationOnce(`${account}\n${field}`, {
          ledger: account,
          ...(field.startsWith('issue:') ? { issuance: subject } : { transfer: subject }),
          at: expected.entry,
          reason: `the steps hash holds ${field} -> ${outcome}, naming entry ${expected.entry}, ${problem}`,
        });
      }
    });
  }

  async function pass(): Promise<void> {
    if (!projection.ready) return;
    await readThrough();
    const names = audit.ledgerNames();
    if (next >= names.length) next = 0;
    const batch = names.slice(next, next + PER_PASS.ledgers);
    next += batch.length;
    await Promise.all(batch.map(async (account) => Promise.all([checkKept(account), checkSteps(account)])));
  }

  function runPass(): Promise<void> {
    running ??= pass()
      .then(() => {
        failing = false;
      })
      .catch((error: unknown) => {
        if (!failing)
          log.warn({ err: errorMessage(error) }, 'the books could not compare the kept state; trying again');
        failing = true;
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  }

  let timer: NodeJS.Timeout | undefined;
  const schedule = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      void runPass().finally(schedule);
    }, everyMs);
    timer.unref();
  };
  if (everyMs > 0) schedule();

  return {
    pass: runPass,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await running;
    },
  };
}
