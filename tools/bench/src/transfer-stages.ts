/**
 * Where a transfer's latency goes, stage by stage, read back from what the bank wrote rather than
 * from anything the services report: every Redis stream entry ID begins with the millisecond Redis
 * wrote it at. Beside the bench's own clock at the two ends (the POST sent, the settlement seen),
 * the four entries of a completed transfer (TransferRequested, Debited on the payer's ledger,
 * Credited on the payee's, TransferCompleted) cut its latency into five stages.
 *
 * The bench's moments (its performance.now() placed on the wall clock, see latencyAt) and Redis's
 * entry IDs are of the same clock, this machine's wall clock; IDs are whole milliseconds: a stage
 * is exact to about a millisecond, and one near 0 may read -1 ms (an entry ID also never goes
 * back: Redis keeps it after the last one when its clock does).
 */
import { ledgerEvents, ledgerKey, transferEvents, transfersKey } from '@microbank/events';
import { decodeEntry, type RedisClient } from '@microbank/streams';
import type { Pause } from './own-pauses.ts';
import { type LatencyHistogram, latencyHistogram, round } from './stats.ts';

/** The stages in order, each named by the moment it ends at. */
export const STAGES = [
  { name: 'accepted', label: 'POST sent -> accepted (TransferRequested written)' },
  { name: 'debited', label: 'accepted -> debited (a processor picks it up, the debit script)' },
  { name: 'credited', label: 'debited -> credited' },
  { name: 'settled', label: 'credited -> settled (TransferCompleted written)' },
  { name: 'seen', label: 'settled -> seen completed by the bench' },
] as const;

export type StageName = (typeof STAGES)[number]['name'];

/** What the bench knows of one transfer of the run: wall-clock ms (as Date.now()), and its end-to-end latency. */
export interface TransferTiming {
  transfer: string;
  sentAtMs: number;
  /** When its 202 came back. */
  answeredAtMs?: number;
  /** When the bench read its settlement; absent when it never did. */
  seenAtMs?: number;
  /** The latency the bench measured (performance.now(), seen - sent): the one p50 and p99 are of. */
  endToEndMs?: number;
}

/** A stream entry as XRANGE returns it: its ID and its fields. */
export type StreamEntry = [id: string, fields: string[]];

export interface StageEntries {
  /** The transfers stream from the run's start on. */
  transfers: StreamEntry[];
  /** Each account's ledger from the run's start on, by account. */
  ledgers: Record<string, StreamEntry[]>;
}

export interface SlowTransfer {
  endToEndMs: number;
  stagesMs: Record<StageName, number>;
  slowestStage: StageName;
}

export interface StageFigures {
  /** Transfers the bench measured end to end whose four entries were all found. */
  measured: number;
  /** Transfers the bench measured end to end with an entry missing (rejected, say): in no histogram. */
  incomplete: number;
  /** A histogram per stage, in the order of STAGES. */
  stages: Array<{ name: StageName; label: string; histogram: LatencyHistogram }>;
  /** The transfers slower end to end than the run's p99, and the stage that took the largest share of each. */
  slow: {
    aboveMs: number;
    transfers: number;
    byStage: Record<StageName, number>;
    /**
     * When the slow ones with all their entries were sent, in seconds after the run's first POST:
     * all within a fraction of a second says one pause, spread over the run says something steady.
     */
    sentWithinS?: [first: number, last: number];
    /** Slow ones with an entry missing: no stage named. */
    incomplete: number;
    /** Slow ones in flight (sent, not yet seen) during one of the bench's own GC pauses (absent: not watched). */
    duringBenchPause?: number;
  };
  /**
   * The bench's own GC pauses of a ms or more during the run (absent: not watched); `full`: how
   * many of them were full collections (older JSON figures have no count).
   */
  benchPauses?: { count: number; full?: number; totalMs: number; longestMs: number };
  /** The slowest few, each with its stages: enough to read, small enough for the JSON. */
  slowest: SlowTransfer[];
  /** The largest difference between a transfer's stages added up and its end-to-end latency (the bench's clock at both ends: 0 but for float rounding). */
  maxSumGapMs: number;
}

const SLOWEST_KEPT = 10;

/** The ms an entry ID begins with. */
export function entryMs(id: string): number {
  return Number(id.slice(0, id.indexOf('-')));
}

/**
 * The stages of each measured transfer from its entries; histograms, and the slow ones' slowest
 * stage. `benchPauses` (wall clock, as the timings), when given: how many slow ones the bench's
 * own GC paused in flight.
 */
export function transferStages(
  timings: Iterable<TransferTiming>,
  entries: StageEntries,
  p99Ms: number,
  benchPauses?: Pause[],
): StageFigures {
  const requested = new Map<string, { atMs: number; from: string; to: string }>();
  const settled = new Map<string, number>();
  for (const [id, fields] of entries.transfers) {
    const decoded = decodeEntry(transferEvents, fields);
    if (!decoded.ok) continue;
    const { event } = decoded;
    if (event.type === 'TransferRequested') {
      requested.set(event.data.transfer, { atMs: entryMs(id), from: event.data.from, to: event.data.to });
    } else if (!settled.has(event.data.transfer)) {
      settled.set(event.data.transfer, entryMs(id));
    }
  }
  // By account: when each transfer was debited from it, and credited to it.
  const debited = new Map<string, Map<string, number>>();
  const credited = new Map<string, Map<string, number>>();
  for (const [account, ledger] of Object.entries(entries.ledgers)) {
    const debits = new Map<string, number>();
    const credits = new Map<string, number>();
    for (const [id, fields] of ledger) {
      const decoded = decodeEntry(ledgerEvents, fields);
      if (!decoded.ok) continue;
      const { event } = decoded;
      if (event.type === 'Debited' && !debits.has(event.data.transfer)) debits.set(event.data.transfer, entryMs(id));
      if (event.type === 'Credited' && !credits.has(event.data.transfer)) {
        credits.set(event.data.transfer, entryMs(id));
      }
    }
    debited.set(account, debits);
    credited.set(account, credits);
  }

  const values = Object.fromEntries(STAGES.map(({ name }) => [name, [] as number[]])) as Record<StageName, number[]>;
  const byStage = Object.fromEntries(STAGES.map(({ name }) => [name, 0])) as Record<StageName, number>;
  const slow: SlowTransfer[] = [];
  let measured = 0;
  let incomplete = 0;
  let slowIncomplete = 0;
  let maxSumGapMs = 0;
  let runStartMs = Number.POSITIVE_INFINITY;
  const slowSentAtMs: number[] = [];
  let duringBenchPause = 0;
  for (const timing of timings) {
    runStartMs = Math.min(runStartMs, timing.sentAtMs);
    const { endToEndMs, seenAtMs } = timing;
    if (endToEndMs === undefined || seenAtMs === undefined) continue;
    const request = requested.get(timing.transfer);
    const debitMs = request && debited.get(request.from)?.get(timing.transfer);
    const creditMs = request && credited.get(request.to)?.get(timing.transfer);
    const settleMs = settled.get(timing.transfer);
    const isSlow = endToEndMs > p99Ms;
    const { sentAtMs } = timing;
    if (isSlow && benchPauses?.some((pause) => pause.startMs < seenAtMs && pause.endMs > sentAtMs)) duringBenchPause++;
    if (request === undefined || debitMs === undefined || creditMs === undefined || settleMs === undefined) {
      incomplete++;
      if (isSlow) slowIncomplete++;
      continue;
    }
    measured++;
    const stagesMs: Record<StageName, number> = {
      accepted: request.atMs - timing.sentAtMs,
      debited: debitMs - request.atMs,
      credited: creditMs - debitMs,
      settled: settleMs - creditMs,
      seen: seenAtMs - settleMs,
    };
    let sum = 0;
    for (const { name } of STAGES) {
      values[name].push(stagesMs[name]);
      sum += stagesMs[name];
    }
    maxSumGapMs = Math.max(maxSumGapMs, Math.abs(sum - endToEndMs));
    if (!isSlow) continue;
    let slowestStage: StageName = STAGES[0].name;
    for (const { name } of STAGES) if (stagesMs[name] > stagesMs[slowestStage]) slowestStage = name;
    byStage[slowestStage]++;
    slow.push({ endToEndMs, stagesMs, slowestStage });
    slowSentAtMs.push(timing.sentAtMs);
  }
  slow.sort((a, b) => b.endToEndMs - a.endToEndMs);
  return {
    measured,
    incomplete,
    stages: STAGES.map(({ name, label }) => ({ name, label, histogram: latencyHistogram(values[name]) })),
    slow: {
      aboveMs: p99Ms,
      transfers: slow.length + slowIncomplete,
      byStage,
      incomplete: slowIncomplete,
      ...(benchPauses && { duringBenchPause }),
      ...(slowSentAtMs.length > 0 && {
        sentWithinS: [
          round((Math.min(...slowSentAtMs) - runStartMs) / 1_000, 2),
          round((Math.max(...slowSentAtMs) - runStartMs) / 1_000, 2),
        ] as [number, number],
      }),
    },
    ...(benchPauses && {
      benchPauses: {
        count: benchPauses.length,
        full: benchPauses.filter((pause) => pause.full).length,
        totalMs: round(benchPauses.reduce((sum, pause) => sum + pause.endMs - pause.startMs, 0)),
        longestMs: round(Math.max(0, ...benchPauses.map((pause) => pause.endMs - pause.startMs))),
      },
    }),
    // To a tenth of a ms, as the JSON has no use for the float's tail.
    slowest: slow.slice(0, SLOWEST_KEPT).map((each) => ({
      endToEndMs: round(each.endToEndMs),
      stagesMs: Object.fromEntries(STAGES.map(({ name }) => [name, round(each.stagesMs[name])])) as Record<
        StageName,
        number
      >,
      slowestStage: each.slowestStage,
    })),
    maxSumGapMs: round(maxSumGapMs, 2),
  };
}

/**
 * Reads back the entries of the transfers made since `sinceMs` (wall clock): the transfers stream
 * and the ledgers of `accounts`, from that millisecond on. Not part of any latency: it runs after
 * the load has stopped.
 */
export async function readStageEntries(
  client: RedisClient,
  accounts: readonly string[],
  sinceMs: number,
): Promise<StageEntries> {
  const from = `${Math.floor(sinceMs)}-0`;
  const range = async (key: string) => (await client.xrange(key, from, '+')) as StreamEntry[];
  const ledgers: Record<string, StreamEntry[]> = {};
  for (const account of accounts) ledgers[account] = await range(ledgerKey(account));
  return { transfers: await range(transfersKey()), ledgers };
}

/** "of the 5 slowest 1% (above p99 21.3 ms): 4 slowest in accepted -> debited, 1 in settled -> seen". */
export function describeSlow(figures: StageFigures, formatMs: (value: number) => string): string {
  const { slow } = figures;
  if (slow.transfers === 0) return `none slower than p99 (${formatMs(slow.aboveMs)})`;
  const parts = STAGES.filter(({ name }) => slow.byStage[name] > 0)
    .sort((a, b) => slow.byStage[b.name] - slow.byStage[a.name])
    .map(({ name }, i) => `${slow.byStage[name]}${i === 0 ? ' slowest' : ''} in ${stageShortName(name)}`);
  if (slow.incomplete > 0) parts.push(`${slow.incomplete} with an entry missing`);
  const when = slow.sentWithinS ? `; sent ${slow.sentWithinS[0]} to ${slow.sentWithinS[1]} s into the run` : '';
  const pauses = figures.benchPauses;
  const bench =
    pauses && slow.duringBenchPause !== undefined
      ? `; ${slow.duringBenchPause} in flight during a GC pause of the bench's own (${pauses.count} of 1 ms or more in the run${pauses.full === undefined ? '' : `, ${pauses.full} of them full collections`}, ${formatMs(pauses.totalMs)} in all, the longest ${formatMs(pauses.longestMs)})`
      : '';
  return `of the ${slow.transfers} slowest 1% (above p99 ${formatMs(slow.aboveMs)}): ${parts.join(', ')}${when}${bench}`;
}

/** `accepted -> debited`: a stage by the moments it runs between. */
export function stageShortName(name: StageName): string {
  const i = STAGES.findIndex((stage) => stage.name === name);
  return `${i === 0 ? 'sent' : STAGES[i - 1]?.name} -> ${name}`;
}
