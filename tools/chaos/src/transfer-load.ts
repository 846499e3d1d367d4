/**
 * The money load that runs while the monkey kills: concurrent transfers between random accounts,
 * amounts that sometimes overdraw, now and then to an account that registered but has no ledger;
 * each sent to a random transfer replica with its own Idempotency-Key and sent again with the
 * same key (and body) after a timeout, a dropped connection or a 503, until the API answers: a
 * transfer whose answer was lost is never dropped, it is asked again (even after the load stops,
 * for up to ANSWER_WAIT_MS). Every transfer the API accepted is recorded for the check, with how
 * many sends it took; one never answered is recorded too, so the check can look for it on the
 * transfers stream by its key. A 503 is the one refusal a client should ever see (Redis away, a
 * replica not caught up, or the bank short of room: admission control, or a write refused by a full
 * Redis); a 500 or any other 5xx is counted as unexpected and fails the check.
 * A `503 {"error":"indeterminate","transfer"}` (recorded, not confirmed by a replica in time) is
 * what a careful client does with it: the transfer's ID is kept, the same request is sent again
 * with the same key until a definite answer (202 or a 4xx), and the transfer is recorded as having
 * been indeterminate, with every ID it was answered with, so the check can hold it to one outcome.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { accountsOf, type StackPlan, serviceUrl, stackCredential } from '@microbank/local-stack';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';

export interface AcceptedTransfer {
  transfer: string;
  key: string;
  from: string;
  to: string;
  amount: number;
  /** How many times it was sent before the API accepted it (more than 1: an answer was lost). */
  sends: number;
  /** The IDs the API named in `503 indeterminate` answers before the definite one (none: never indeterminate). */
  indeterminate: string[];
}

/** A transfer answered `indeterminate` at least once: what it ended as. */
export interface IndeterminateTransfer {
  key: string;
  /** The IDs named in its indeterminate answers. */
  ids: string[];
  /** The definite answer it was sent into: 202 with its transfer, a 4xx, or none (the load stopped first). */
  outcome: { status: 202; transfer: string } | { status: number; text: string } | undefined;
}

/**
 * How long a send waits for its answer: longer than a write waits for its replicas (1 s by
 * default), and a while more, since a connection whose WAIT is waiting holds the writes behind it.
 */
const SEND_TIMEOUT_MS = 4_000;

/** How long a send whose answer was lost is retried once the load has stopped. */
const ANSWER_WAIT_MS = 60_000;

export interface TransferCounts {
  /** Transfers the API accepted (202), each counted once however often it was sent. */
  accepted: number;
  /** Sends repeated with the same key after no answer, a dropped connection or a 503. */
  resent: number;
  /** The 503s, by why: `full` is admission control (Redis near its maxmemory), `outOfRoom` a write Redis refused (OOM). */
  refused: { full: number; outOfRoom: number; other: number };
  /** Sends with no HTTP answer within SEND_TIMEOUT_MS (refused, reset, timed out): each sent again. */
  noAnswer: number;
  /** The other 503s by their `error` (or first words): what a failover made the API answer. */
  otherReasons: Record<string, number>;
  /** `503 indeterminate` answers (recorded, not confirmed by a replica in time), and the transfers that got one. */
  indeterminate: { answers: number; transfers: number };
  /** Answers other than 202, 503 and the fair 422 (a 500, any other 5xx or 4xx): each is a failure of the check. */
  unexpected: string[];
  /** Keys sent and never answered within ANSWER_WAIT_MS of the stop: each is a failure of the check. */
  unanswered: string[];
}

export interface TransferLoad {
  accepted: AcceptedTransfer[];
  /** Every transfer answered indeterminate at least once, with the outcome it was retried into. */
  indeterminate: IndeterminateTransfer[];
  counts: TransferCounts;
  /** Stops making transfers; a send whose answer was lost is asked again for up to `answerWaitMs`. */
  stop(answerWaitMs?: number): Promise<void>;
}

export function startTransferLoad(
  plan: StackPlan,
  seed: number,
  workers: number,
  pauseMs: number,
  /** Accounts that registered without a ledger, as the registration load makes them. */
  ledgerless: () => string[],
  /** The transfer services sent to (default: the stack's transfer replicas), as base URLs. */
  targets?: readonly string[],
): TransferLoad {
  const rng = xoroshiro128plus(seed);
  const pick = <T>(items: readonly T[]): T => items[uniformInt(rng, 0, items.length - 1)] as T;
  const accounts = accountsOf(plan);
  const authorization = `Bearer ${stackCredential(plan.dataDir)}`;
  const replicas =
    targets ?? plan.services.filter((spec) => spec.program === 'transfer').map((spec) => serviceUrl(plan, spec.name));
  const accepted: AcceptedTransfer[] = [];
  const indeterminate: IndeterminateTransfer[] = [];
  const seen = new Set<string>();
  const counts: TransferCounts = {
    accepted: 0,
    resent: 0,
    refused: { full: 0, outOfRoom: 0, other: 0 },
    noAnswer: 0,
    otherReasons: {},
    indeterminate: { answers: 0, transfers: 0 },
    unexpected: [],
    unanswered: [],
  };
  let stopped = false;
  let stoppedAt = 0;
  let answerWaitMs = ANSWER_WAIT_MS;

  /** Sends one transfer until the API answers it; returns when it did (or the load stopped). */
  async function transfer(): Promise<void> {
    const from = pick(accounts);
    const others = accounts.filter((account) => account !== from);
    const strangers = ledgerless();
    const to = strangers.length > 0 && uniformInt(rng, 0, 9) === 0 ? pick(strangers) : pick(others);
    const amount = uniformInt(rng, 1, 60);
    const key = randomUUID();
    const body = JSON.stringify({ from, to, amount });
    let uncertain: IndeterminateTransfer | undefined;
    let retryAfterMs = 50;
    for (let attempt = 0; !stopped || attempt > 0; attempt++) {
      if (attempt > 0) {
        counts.resent++;
        await sleep(retryAfterMs);
        retryAfterMs = 50;
      }
      let status: number;
      let text: string;
      let retryAfter: string | null = null;
      try {
        const response = await fetch(`${pick(replicas)}/transfers`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'idempotency-key': key, authorization },
          body,
          signal: AbortSignal.timeout(SEND_TIMEOUT_MS),
        });
        status = response.status;
        retryAfter = response.headers.get('retry-after');
        text = await response.text();
      } catch {
        status = 0;
        text = '';
        counts.noAnswer++;
      }
      if (status === 503 && /"error":"indeterminate"/.test(text)) {
        // Recorded on the primary, not confirmed: it may stand or vanish. Only the same request
        // with the same key settles which; a new key could pay twice.
        const { transfer: id } = JSON.parse(text) as { transfer: string };
        counts.indeterminate.answers++;
        if (!uncertain) {
          uncertain = { key, ids: [], outcome: undefined };
          indeterminate.push(uncertain);
          counts.indeterminate.transfers++;
        }
        if (!uncertain.ids.includes(id)) uncertain.ids.push(id);
        // As a client should: the API says when the replicas may have caught up.
        retryAfterMs = Math.min(Number(retryAfter ?? 0) * 1_000, 2_000) || 50;
      } else if (status === 503) {
        if (/"error":"full"/.test(text)) counts.refused.full++;
        else if (/out of room/.test(text)) counts.refused.outOfRoom++;
        else {
          counts.refused.other++;
          const reason = /"error":"([^"]+)"/.exec(text)?.[1] ?? text.slice(0, 60);
          counts.otherReasons[reason] = (counts.otherReasons[reason] ?? 0) + 1;
        }
      }
      if (status === 0 || status === 503) {
        if (stopped && performance.now() - stoppedAt > answerWaitMs) {
          counts.unanswered.push(key);
          return;
        }
        continue;
      }
      if (status === 202) {
        const { transfer: id } = JSON.parse(text) as { transfer: string };
        if (uncertain) uncertain.outcome = { status: 202, transfer: id };
        if (!seen.has(id)) {
          seen.add(id);
          accepted.push({
            transfer: id,
            key,
            from,
            to,
            amount,
            sends: attempt + 1,
            indeterminate: uncertain?.ids ?? [],
          });
          counts.accepted++;
        }
        return;
      }
      if (uncertain) uncertain.outcome = { status, text: text.slice(0, 200) };
      if (!(status === 422 && /unknown_account/.test(text))) {
        // A stranger not yet in that replica's registry is a fair 422; anything else is not.
        counts.unexpected.push(`${status} ${text.slice(0, 200)}`);
      }
      return;
    }
  }

  const loops = Array.from({ length: workers }, async () => {
    while (!stopped) {
      await transfer();
      await sleep(pauseMs);
    }
  });
  return {
    accepted,
    indeterminate,
    counts,
    async stop(waitMs = ANSWER_WAIT_MS) {
      stopped = true;
      stoppedAt = performance.now();
      answerWaitMs = waitMs;
      await Promise.all(loops);
    },
  };
}
