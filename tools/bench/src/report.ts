/** The figures of one bench run: the targets they are held to, the printed table, the JSON. */

import { EVENT_LOOP_SAMPLE_MS } from '@microbank/service-runtime';
import type { ClusterFigures } from './cluster-bench.ts';
import type { CompareFigures, CompareRun } from './compare-bench.ts';
import type { DashboardFigures } from './dashboard-bench.ts';
import { KINDS, type MemoryFigures, type MemoryMoment } from './memory-bench.ts';
import type { CpuUse } from './process-cpu.ts';
import type { ReplayFigures } from './replay-bench.ts';
import type { RestartFigures, RestartFrom } from './restart-bench.ts';
import type { ServeFigures } from './serve-bench.ts';
import { LATENCY_THRESHOLD_MS, type Stalls } from './stalls.ts';
import { percentile, round } from './stats.ts';
import { describeSlow, type StageFigures } from './transfer-stages.ts';
import type { TransferFigures } from './transfers-bench.ts';
import type { VisibilityFigures } from './visibility-bench.ts';

export interface BenchFigures {
  machine: {
    cpus: number;
    cpuModel: string;
    node: string;
    redis: string;
    /** The 1-minute load average when the run began and ended: other work on the machine shows here. */
    loadAtStart: number;
    loadAtEnd?: number;
  };
  quick: boolean;
  startedAt: string;
  replay: ReplayFigures[];
  restart_to_ready: RestartFigures[];
  serve?: ServeFigures;
  visibility?: VisibilityFigures;
  transfers?: TransferFigures;
  cluster?: ClusterFigures;
  memory?: MemoryFigures;
  compare?: CompareFigures;
  dashboard?: DashboardFigures;
}

/** The transfers group's targets: settled per second sustained, and latency p99 at the offered rate. */
export const SUSTAINED_LIMIT_PER_SECOND = 2_000;
export const TRANSFER_P99_LIMIT_MS = 25;
export const TRANSFER_P999_LIMIT_MS = 50;
/** Issue 20: settled per second sustained, as a share of what bare pipelined Redis allows in the same run. */
export const SUSTAINED_FLOOR_SHARE = 0.5;
/** Issue 17's goal for what a settled transfer leaves in Redis once retained and compacted. */
export const BYTES_PER_TRANSFER_LIMIT = 300;
/** Issue 19's goal: a primary SIGKILLed → the first transfer touching its slots, p99, with this node timeout and kills. */
export const FAILOVER_RECOVERY_P99_LIMIT_MS = 8_000;
export const FAILOVER_GOAL_NODE_TIMEOUT_MS = 5_000;
export const FAILOVER_GOAL_KILLS = 20;
/** Issue 20's aim for transfer latency p99 at 500/s with replica confirmation on the cluster. */
export const CLUSTER_P99_LIMIT_MS = 35;
/** Issue 17's acceptance: transfers no worse than before by more than this, in the same run. */
export const COMPARE_TOLERANCE = 0.1;

export interface TargetCheck {
  target: string;
  limit: string;
  measured: string;
  met: boolean;
}

/** Each target of the issue that this run measured, with its limit from the same run. */
export function checkTargets(figures: BenchFigures): TargetCheck[] {
  const checks: TargetCheck[] = [];
  const check = (target: string, limit: string, measured: string, met: boolean) =>
    checks.push({ target, limit, measured, met });
  for (const replay of figures.replay.filter((r) => r.history === '1M')) {
    const fold = replay.bareFoldRatio;
    check(
      `replay of a ${replay.projection} of 1M events <= 1.25x the cheapest read`,
      `1.25 x ${ms(replay.cheapestReadMs)} = ${ms(1.25 * replay.cheapestReadMs)}`,
      `${ms(replay.projectionMs)} (${x(replay.ratio, 1.25)})${
        fold === undefined ? '' : `; a bare fold of the same entries alone: ${x(fold, 1.25)}${overLimit(fold > 1.25)}`
      }`,
      replay.ratio <= 1.25,
    );
  }
  const restart = (history: string, from: RestartFrom) =>
    figures.restart_to_ready.find((r) => r.history === history && r.from === from);
  const short = restart('10k', 'full replay');
  if (short) {
    const limit = short.bareProcessMs + 150;
    // The same service started with nothing to replay: how much of the 150 ms its start alone takes
    // (a median against its own runs' bare process, so it moves from run to run as the figure does).
    const started = restart('10k', 'snapshot');
    let startAlone = '';
    if (started) {
      const overMs = started.medianMs - started.bareProcessMs;
      startAlone = `; with nothing to replay (from a snapshot): ${ms(started.medianMs)}, ${ms(overMs)} over its bare process${overMs > 150 ? ', more than the 150 ms' : ''}`;
    }
    check(
      'restart -> ready with 2 accounts (10k events, full replay) <= bare process + 150 ms',
      `${ms(short.bareProcessMs)} + 150 ms = ${ms(limit)}`,
      `${ms(short.medianMs)}${startAlone}`,
      short.medianMs <= limit,
    );
  }
  const large = restart('1M', 'full replay');
  const registry1M = figures.replay.find((r) => r.history === '1M' && r.projection === 'registry');
  if (large && registry1M) {
    const limit = 1.25 * registry1M.cheapestReadMs + large.bareProcessMs;
    // Nothing that replays the registry can start faster than a bare process and a bare fold.
    const floor = registry1M.bareFoldMs === undefined ? undefined : registry1M.bareFoldMs + large.bareProcessMs;
    check(
      'restart -> ready with 1M events (full replay) <= 1.25x the cheapest read + bare process',
      `1.25 x ${ms(registry1M.cheapestReadMs)} + ${ms(large.bareProcessMs)} = ${ms(limit)}`,
      // Over the limit exactly when the registry's bare fold is over 1.25x the read (its replay's line).
      `${ms(large.medianMs)}${
        floor === undefined
          ? ''
          : `; a bare fold of the registry + bare process alone: ${ms(floor)}${overLimit(floor > limit)}`
      }`,
      large.medianMs <= limit,
    );
  }
  const readyWithin = (history: string, from: RestartFrom, limitMs: number, what: string) => {
    const figure = restart(history, from);
    if (figure) {
      const target = `restart -> ready with ${what} (${from}) <= ${limitMs} ms`;
      check(target, ms(limitMs), ms(figure.medianMs), figure.medianMs <= limitMs);
    }
  };
  readyWithin('10M', 'snapshot', 300, '10M events of 2 accounts');
  if (figures.serve) {
    check(
      'GET /accounts through the app >= 0.7x bare node:http',
      // The verdict is on the median of each round's own ratio, not on the ratio of the medians:
      // both columns speak of that ratio, the medians beside it.
      '0.7x, the median of the rounds` ratios',
      `${x(figures.serve.ratio, 0.7)} (medians: ${rps(figures.serve.serviceRps)}, bare ${rps(figures.serve.bareRps)})`,
      figures.serve.ratio >= 0.7,
    );
  }
  if (figures.visibility) {
    check('visibility p99 <= 5 ms', '5 ms', ms(figures.visibility.p99Ms, 2), figures.visibility.p99Ms <= 5);
  }
  const t = figures.transfers;
  if (t) {
    check(
      'transfers settled per second, sustained, 10 accounts >= 2,000',
      `${perSecond(SUSTAINED_LIMIT_PER_SECOND)} (floor: ${perSecond(t.floorPerSecond)})`,
      `${perSecond(t.sustainedPerSecond)} (${x(t.sustainedPerSecond / t.floorPerSecond)} of the floor)`,
      t.sustainedPerSecond >= SUSTAINED_LIMIT_PER_SECOND,
    );
    check(
      `transfers settled per second, sustained >= ${SUSTAINED_FLOOR_SHARE}x the bare pipelined floor`,
      `${SUSTAINED_FLOOR_SHARE} x ${perSecond(t.floorPerSecond)} = ${perSecond(SUSTAINED_FLOOR_SHARE * t.floorPerSecond)}`,
      `${perSecond(t.sustainedPerSecond)} (${x(t.sustainedPerSecond / t.floorPerSecond, SUSTAINED_FLOOR_SHARE)})`,
      t.sustainedPerSecond >= SUSTAINED_FLOOR_SHARE * t.floorPerSecond,
    );
    check(
      `transfer latency p99 at 500/s offered <= ${TRANSFER_P99_LIMIT_MS} ms`,
      ms(TRANSFER_P99_LIMIT_MS),
      ms(t.p99Ms, 1),
      t.p99Ms <= TRANSFER_P99_LIMIT_MS,
    );
    const p999 = t.latencyHistogram?.percentiles?.p999Ms ?? Number.NaN;
    check(
      `transfer latency p99.9 at 500/s offered <= ${TRANSFER_P999_LIMIT_MS} ms`,
      ms(TRANSFER_P999_LIMIT_MS),
      `${ms(p999, 1)} (${(t.latencyHistogram?.samples ?? 0).toLocaleString('en')} transfers)`,
      p999 <= TRANSFER_P999_LIMIT_MS,
    );
    check(
      'recovery: processor SIGKILLed -> its transfers completed and taken over <= 5 s',
      '5,000 ms',
      t.recoveredTransfers > 0
        ? `${ms(t.recoveryMs)} (${t.recoveredTransfers} transfers held)`
        : 'not measured: the killed processor held no transfer',
      // A processor that held nothing proves nothing about taking its transfers over.
      t.recoveredTransfers > 0 && t.recoveryMs <= 5_000,
    );
  }
  const k = figures.cluster;
  if (k) {
    check(
      `cluster: transfer latency p99 at ${k.offeredPerSecond}/s offered, replica confirmation on <= ${CLUSTER_P99_LIMIT_MS} ms`,
      `${CLUSTER_P99_LIMIT_MS} ms`,
      // How near the offered rate is to what the cluster bank sustains in the same run: near it, p99
      // measures a queue. Not a floor: no verdict of its own.
      `${ms(k.p99Ms, 1)}${
        k.sustainedPerSecond > 0
          ? ` (the cluster sustained ${perSecond(k.sustainedPerSecond)} in this run: ${perSecond(k.offeredPerSecond)} is ${x(k.offeredPerSecond / k.sustainedPerSecond)} of it)`
          : ''
      }`,
      k.p99Ms <= CLUSTER_P99_LIMIT_MS,
    );
    // The goal holds only at its own settings: a run with fewer kills or another node timeout is
    // printed, and not counted as meeting it.
    const atGoalSettings = k.kills.length >= FAILOVER_GOAL_KILLS && k.nodeTimeoutMs === FAILOVER_GOAL_NODE_TIMEOUT_MS;
    // Redis's own part: no transfer can touch the slots before a replica serves them. A poll sees the
    // promotion (every 50 ms, slower on a busy machine), so it can be seen after the first transfer
    // went through: a kill's part is never taken as more than its recovery.
    const failedOverP99Ms = percentile(
      k.kills.map((kill) => Math.min(kill.failedOverMs, kill.recoveredMs)),
      99,
    );
    check(
      `cluster failover: primary SIGKILLed -> first transfer touching its slots completed, p99 over >= ${FAILOVER_GOAL_KILLS} kills, cluster-node-timeout ${FAILOVER_GOAL_NODE_TIMEOUT_MS.toLocaleString('en')} ms <= 8 s`,
      ms(FAILOVER_RECOVERY_P99_LIMIT_MS),
      `${ms(k.recoveryP99Ms)} (p50 ${ms(k.recoveryP50Ms)}, ${k.kills.length} kills, node timeout ${ms(k.nodeTimeoutMs)}${atGoalSettings ? '' : ': not the goal`s settings'}; Redis's own failover alone, none counted past its kill's recovery: p99 ${ms(failedOverP99Ms)}${overLimit(atGoalSettings && failedOverP99Ms > FAILOVER_RECOVERY_P99_LIMIT_MS)})`,
      atGoalSettings && k.recoveryP99Ms <= FAILOVER_RECOVERY_P99_LIMIT_MS,
    );
  }
  if (figures.memory) {
    const m = figures.memory.afterCompaction;
    check(
      `bytes per settled transfer after retention and compaction <= ${BYTES_PER_TRANSFER_LIMIT} B`,
      `${BYTES_PER_TRANSFER_LIMIT} B of used memory`,
      `${bytes(m.usedMemoryBytes)} (MEMORY USAGE of the keys: ${bytes(m.keysBytes)})`,
      m.usedMemoryBytes <= BYTES_PER_TRANSFER_LIMIT,
    );
  }
  const c = figures.compare;
  if (c) {
    const against = `the baseline (${c.baselineCommit ?? c.baseline})`;
    const low = 1 - COMPARE_TOLERANCE;
    const high = 1 + COMPARE_TOLERANCE;
    check(
      `transfers settled per second, sustained >= ${low}x ${against}, same run`,
      `${low} x ${perSecond(c.baselineMedian.sustainedPerSecond)} = ${perSecond(low * c.baselineMedian.sustainedPerSecond)}`,
      `${perSecond(c.currentMedian.sustainedPerSecond)} (${x(c.ratios.sustained, low)}, the median pair)`,
      c.ratios.sustained >= low,
    );
    for (const [name, field, ratio] of [
      ['p50', 'p50Ms', c.ratios.p50],
      ['p99', 'p99Ms', c.ratios.p99],
    ] as const) {
      check(
        `transfer latency ${name} at ${c.baselineMedian.offeredPerSecond}/s offered <= ${high}x ${against}, same run`,
        `${high} x ${ms(c.baselineMedian[field], 1)} = ${ms(high * c.baselineMedian[field], 1)}`,
        `${ms(c.currentMedian[field], 1)} (${x(ratio, high)}, the median pair)`,
        ratio <= high,
      );
    }
  }
  if (figures.dashboard) {
    const { without, withPages } = figures.dashboard;
    check(
      `${withPages.pages} open dashboard pages add no Redis commands`,
      `${without.redisCommandsPerMinute.toLocaleString('en')}/min with none (+2%)`,
      `${withPages.redisCommandsPerMinute.toLocaleString('en')}/min`,
      withPages.redisCommandsPerMinute <= without.redisCommandsPerMinute * 1.02,
    );
  }
  return checks;
}

/**
 * Said after a floor measured in the same run when that floor alone is over the target's limit:
 * nothing measured above it can meet the limit in that run.
 */
function overLimit(over: boolean): string {
  return over ? ', over the limit' : '';
}

/** The run in one line: what ran where, and how busy the machine was beside it. */
export function describeRun(figures: BenchFigures): string {
  const { machine } = figures;
  return `microbank bench${figures.quick ? ' --quick' : ''}: ${machine.cpus} x ${machine.cpuModel}, Node ${machine.node}, Redis ${machine.redis}; load average (1 min) ${machine.loadAtStart.toFixed(2)} at the start, ${machine.loadAtEnd?.toFixed(2) ?? '?'} at the end`;
}

/** The run as text tables, the way docs/performance.md shows it. */
export function formatReport(figures: BenchFigures, checks: TargetCheck[]): string {
  const { machine } = figures;
  const out: string[] = [describeRun(figures), ''];
  if (figures.replay.length > 0) {
    out.push(
      'replay: a projection rebuilt from scratch, next to the cheapest read of the same entries (the limit: buffer replies, the projection`s batch size, the next batch prefetched, entries discarded) and a bare fold (that read, and of each entry only its account found in its data and set in a Map for the registry, its amount found and summed for a ledger: less than any projection does)',
    );
    out.push(
      table(
        ['projection', 'history', 'cheapest read', 'replay', 'ratio', 'bare fold', 'its ratio'],
        figures.replay.map((r) => [
          r.projection,
          r.history,
          ms(r.cheapestReadMs),
          ms(r.projectionMs),
          x(r.ratio),
          r.bareFoldMs === undefined ? '' : ms(r.bareFoldMs),
          r.bareFoldRatio === undefined ? '' : x(r.bareFoldRatio),
        ]),
      ),
    );
  }
  if (figures.restart_to_ready.length > 0) {
    out.push(
      'restart_to_ready: account-system bundle, spawn to /readyz 200, next to a bare Node process spawned and polled the same way',
    );
    out.push(
      table(
        ['history', 'accounts', 'starting from', 'median', 'min', 'max', 'runs', 'bare process'],
        figures.restart_to_ready.map((r) => [
          r.history,
          r.accounts.toLocaleString('en'),
          r.from,
          ms(r.medianMs),
          ms(r.minMs),
          ms(r.maxMs),
          String(r.runs),
          ms(r.bareProcessMs),
        ]),
      ),
    );
  }
  if (figures.serve) {
    const s = figures.serve;
    out.push(`serve: GET /accounts (${s.bodyBytes} bytes), ${s.connections} connections, ${s.seconds} s x ${s.rounds}`);
    out.push(table(['account-system', 'bare node:http', 'ratio'], [[rps(s.serviceRps), rps(s.bareRps), x(s.ratio)]]));
  }
  if (figures.visibility) {
    const v = figures.visibility;
    out.push(`visibility: XADD acknowledged -> account in GET /accounts, ${v.registrations} registrations`);
    out.push(table(['p50', 'p99', 'max'], [[ms(v.p50Ms, 2), ms(v.p99Ms, 2), ms(v.maxMs, 2)]]));
  }
  if (figures.transfers) {
    const t = figures.transfers;
    out.push(
      `transfers: ${t.accounts} accounts, 2 transfer replicas, balance, the accounts; Redis AOF fsync always; all on this machine`,
    );
    out.push(
      table(
        [
          'sustained (settled)',
          'accepted',
          'floor (bare pipelined Redis)',
          'ratio',
          `p50 at ${t.offeredPerSecond}/s`,
          'p99',
          'p99.9',
          'recovery',
        ],
        [
          [
            perSecond(t.sustainedPerSecond),
            perSecond(t.acceptedPerSecond),
            perSecond(t.floorPerSecond),
            x(t.sustainedPerSecond / t.floorPerSecond),
            ms(t.p50Ms, 1),
            ms(t.p99Ms, 1),
            ms(t.latencyHistogram?.percentiles?.p999Ms ?? Number.NaN, 1),
            `${ms(t.recoveryMs)} (${t.recoveredTransfers} held)`,
          ],
        ],
      ),
    );
    if (t.cpu) {
      // Cores busy / transfers per second = CPU seconds per transfer: where a faster bank must save.
      const perTransfer = Object.entries(t.cpu).map(
        ([kind, cores]) => `${kind} ${Math.round((cores / t.sustainedPerSecond) * 1e6)} µs`,
      );
      out.push(`CPU per settled transfer during the sustained load (from /proc): ${perTransfer.join(', ')}`, '');
    }
    // The same at the offered rate, where the latency is measured: few transfers share a wake-up there.
    // Per transfer accepted in the window, not per POST: a refused or failed one costs the bank little
    // (older figures have only the offered rate). Nothing accepted: no line.
    const rate = t.acceptedAtRate ?? t.offeredPerSecond;
    if (t.cpuAtRate && rate > 0) {
      const cpu = t.cpuAtRate;
      const perTransfer = Object.entries(cpu).map(([kind, cores]) => `${kind} ${Math.round((cores / rate) * 1e6)} µs`);
      const busy = Object.values(cpu).reduce((sum, cores) => sum + cores, 0);
      out.push(
        `CPU per transfer at ${t.offeredPerSecond}/s offered (from /proc; ${busy.toFixed(2)} cores busy${t.acceptedAtRate === undefined ? '' : `, ${perSecond(rate)} accepted`}): ${perTransfer.join(', ')}`,
        '',
      );
    }
    if (t.stages) out.push(...stagesSection(t.stages, 'transfer stages', t.offeredPerSecond));
    if (t.stalls) out.push(...stallsSection(t.stalls));
    if (t.disrupted) {
      const d = t.disrupted;
      out.push(
        `transfers while a transfer replica is SIGKILLed every ${ms(d.everyMs)} (the two in turn, each restarted at once): ${t.offeredPerSecond}/s offered, a POST refused or cut off sent again to the other replica with the same key; reported, no limit`,
        table(
          ['kills', 'transfers', 'p50', 'p99', 'p99.9', 'max', 'posted again'],
          [
            [
              String(d.kills),
              d.samples.toLocaleString('en'),
              ms(d.p50Ms, 1),
              ms(d.p99Ms, 1),
              ms(d.p999Ms, 1),
              ms(d.maxMs, 1),
              String(d.postedAgain),
            ],
          ],
        ),
        '',
      );
    }
  }
  if (figures.cluster) out.push(...clusterSection(figures.cluster, figures.transfers, machine.cpus));
  if (figures.memory) {
    const m = figures.memory;
    out.push(
      `memory: bytes per settled transfer, ${m.transfers.toLocaleString('en')} transfers between ${m.accounts} accounts (requestTransfer + runSaga), retention ${m.retentionMs.toLocaleString('en')} ms; over the bank before them. used memory: INFO after MEMORY PURGE; the keys: MEMORY USAGE, by kind`,
    );
    const row = (moment: string, at: MemoryMoment) => [
      moment,
      bytes(at.usedMemoryBytes),
      bytes(at.keysBytes),
      ...KINDS.map((kind) => bytes(at.byKind[kind])),
      `${at.workingStateKept.toLocaleString('en')} of ${m.transfers.toLocaleString('en')}`,
    ];
    out.push(
      table(
        ['moment', 'used memory', 'the keys', ...KINDS, 'keys and statuses kept'],
        [
          row('live (just settled)', m.live),
          row('after retention', m.afterRetention),
          row('after compaction', m.afterCompaction),
          row('  steps read again', m.stepsReadAgain),
        ],
      ),
    );
    out.push(
      `compaction: ${m.compacted.entries.toLocaleString('en')} transfers-stream entries archived (discarded) and trimmed, ${m.compacted.steps.toLocaleString('en')} step records removed; steps read again: each steps hash read until Redis has shrunk its table, as the next sagas do`,
      '',
    );
  }
  if (figures.compare) {
    const c = figures.compare;
    out.push(
      `compare: the transfers group of ${c.baseline} (${c.baselineCommit ?? 'not a git checkout'}) and of this tree (${c.commit ?? 'not a git checkout'}), alternately${c.quick ? ', --quick' : ''}${c.retried > 0 ? ` (${c.retried} failed runs taken again)` : ''}; ratio: this tree / the baseline, the median of each pair's own ratio`,
    );
    const row = (run: string, r: CompareRun) => [
      run,
      perSecond(r.sustainedPerSecond),
      perSecond(r.acceptedPerSecond),
      ms(r.p50Ms, 1),
      ms(r.p99Ms, 1),
      perSecond(r.floorPerSecond),
    ];
    out.push(
      table(
        ['run', 'sustained (settled)', 'accepted', `p50 at ${c.baselineMedian.offeredPerSecond}/s`, 'p99', 'floor'],
        [
          ...c.pairs.flatMap((pair, i) => [
            row(`baseline ${i + 1}`, pair.baseline),
            row(`this tree ${i + 1}`, pair.current),
          ]),
          row('baseline, median', c.baselineMedian),
          row('this tree, median', c.currentMedian),
          ['ratio', x(c.ratios.sustained), '', x(c.ratios.p50), x(c.ratios.p99), x(c.ratios.floor)],
        ],
      ),
    );
  }
  if (figures.dashboard) {
    const { without, withPages } = figures.dashboard;
    out.push(
      `dashboard: the local stack idle, ${without.seconds} s with no page open, then ${withPages.seconds} s with ${withPages.pages} pages; per minute`,
    );
    const names = Object.keys(without.cpuMsPerMinute);
    out.push(
      table(
        ['pages', 'Redis commands', ...names.map((name) => `${name} CPU`)],
        [without, withPages].map((w) => [
          String(w.pages),
          w.redisCommandsPerMinute.toLocaleString('en'),
          ...names.map((name) => ms(w.cpuMsPerMinute[name] ?? Number.NaN)),
        ]),
      ),
    );
  }
  out.push('targets');
  out.push(
    table(
      ['target', 'limit (this run)', 'measured', ''],
      checks.map((c) => [c.target, c.limit, c.measured, c.met ? 'met' : 'MISSED']),
    ),
  );
  return out.join('\n');
}

/** The cluster's figures beside single Redis's from the same run, its failovers, and where the CPU went. */
function clusterSection(k: ClusterFigures, single: TransferFigures | undefined, cpus: number): string[] {
  const out: string[] = [];
  out.push(
    `cluster: the same bank on a Redis Cluster of ${k.primaries} primaries x ${k.replicasPerPrimary} replicas (AOF fsync always), every acknowledged write confirmed on ${k.confirmReplicas} replica (WAIT); same loads as transfers; single Redis / cluster in the last columns`,
  );
  // Two significant digits when small: a cluster behind its offered rate has latencies 100x single Redis's.
  const ratio = (a: number | undefined, b: number) =>
    a === undefined ? 'n/a' : a / b < 0.1 ? `${(a / b).toPrecision(2)}x` : x(a / b);
  out.push(
    table(
      [
        'sustained (settled)',
        'accepted',
        `p50 at ${k.offeredPerSecond}/s`,
        'p99',
        'single/cluster: sustained',
        'p50',
        'p99',
      ],
      [
        [
          perSecond(k.sustainedPerSecond),
          perSecond(k.acceptedPerSecond),
          ms(k.p50Ms, 1),
          ms(k.p99Ms, 1),
          ratio(single?.sustainedPerSecond, k.sustainedPerSecond),
          ratio(single?.p50Ms, k.p50Ms),
          ratio(single?.p99Ms, k.p99Ms),
        ],
      ],
    ),
  );
  const recovered = k.kills.map((kill) => kill.recoveredMs);
  const failedOver = k.kills.map((kill) => kill.failedOverMs);
  // The flag is seen only while it lasts: a node restarted and back within one look clears it
  // unseen (a loaded machine, a short node timeout). Those kills are left out of these two rows.
  const seenFlagged = k.kills.filter((kill) => Number.isFinite(kill.flaggedMs));
  const flagged = seenFlagged.map((kill) => kill.flaggedMs);
  const elected = seenFlagged.map((kill) => kill.failedOverMs - kill.flaggedMs);
  const seen = seenFlagged.length < k.kills.length ? ` (seen at ${seenFlagged.length} of ${k.kills.length} kills)` : '';
  const services = k.kills.map((kill) => kill.recoveredMs - kill.failedOverMs);
  const accepted = k.kills.map((kill) => kill.acceptedMs);
  const whole = k.kills.map((kill) => kill.wholeMs);
  const byTarget = new Map<string, number>();
  for (const kill of k.kills) {
    const kind = kill.target.startsWith('the ledger') ? 'a ledger' : kill.target;
    byTarget.set(kind, (byTarget.get(kind) ?? 0) + 1);
  }
  out.push(
    `cluster failover: ${k.kills.length} primaries SIGKILLed one after another (${[...byTarget].map(([kind, n]) => `${n} serving ${kind}`).join(', ')}), cluster-node-timeout ${k.nodeTimeoutMs.toLocaleString('en')} ms, under a trickle of transfers; from the kill to: a replica serving its slots; the first transfer asked for after the kill and touching its slots accepted (202) / completed; the node back as a replica and the cluster whole`,
  );
  const summary = (values: number[]) =>
    values.length === 0
      ? ['not seen', '', '']
      : [ms(percentile(values, 50)), ms(percentile(values, 99)), ms(Math.max(...values))];
  out.push(
    table(
      ['', 'p50', 'p99', 'max'],
      [
        [`flagged failed (the primaries agree it is down)${seen}`, ...summary(flagged)],
        ['failed over (a replica serves its slots)', ...summary(failedOver)],
        [`  of which the election (flagged -> served)${seen}`, ...summary(elected)],
        ['accepted', ...summary(accepted)],
        ['completed (recovery)', ...summary(recovered)],
        ['  of which the services (served -> completed)', ...summary(services)],
        ['whole again', ...summary(whole)],
      ],
    ),
  );
  const t = k.trickle;
  const others = Object.entries(t.other)
    .map(([answer, n]) => `${n} x ${answer}`)
    .join(', ');
  out.push(
    `trickle: ${t.accepted.toLocaleString('en')} accepted, ${t.completed.toLocaleString('en')} seen completed, ${t.rejected} refused; asked again with the same key: ${t.indeterminate} indeterminate (503), ${t.unanswered} unanswered${others ? `; other answers: ${others}` : ''}`,
    '',
  );
  const kinds = [...new Set([...Object.keys(single?.cpu ?? {}), ...Object.keys(k.cpu)])];
  const cores = (use: CpuUse | undefined, kind: string) =>
    use?.[kind] === undefined ? '' : (use[kind] as number).toFixed(2);
  const total = (use: CpuUse | undefined) =>
    use
      ? Object.values(use)
          .reduce((sum, each) => sum + each, 0)
          .toFixed(2)
      : '';
  out.push(
    `CPU during the sustained load, in cores (1.00 = one core busy throughout; this machine has ${cpus}), from /proc`,
  );
  out.push(
    table(
      ['', ...kinds, 'total'],
      [
        ...(single ? [['single Redis', ...kinds.map((kind) => cores(single.cpu, kind)), total(single.cpu)]] : []),
        ['cluster', ...kinds.map((kind) => cores(k.cpu, kind)), total(k.cpu)],
      ],
    ),
  );
  if (k.stages) out.push('', ...stagesSection(k.stages, 'cluster: transfer stages', k.offeredPerSecond));
  return out;
}

/**
 * Where the latency at the offered rate went: each stage's percentiles, and the stage that took
 * the largest share of each transfer slower than p99.
 */
function stagesSection(stages: StageFigures, bank: string, offeredPerSecond: number): string[] {
  const row = ({ name, label, histogram }: StageFigures['stages'][number]) => {
    const p = histogram.percentiles;
    const at = (value: number | undefined) => (value === undefined ? '' : ms(value));
    return [label, at(p?.p50Ms), at(p?.p90Ms), at(p?.p99Ms), at(p?.maxMs), String(stages.slow.byStage[name])];
  };
  return [
    `${bank} at ${offeredPerSecond}/s: ${stages.measured.toLocaleString('en')} transfers cut at their entries' IDs (the ms Redis wrote each) and the bench's clock at both ends, on this machine's wall clock as Redis's, to about a ms; ${stages.incomplete} with an entry missing; stages add up to within ${ms(stages.maxSumGapMs, 1)} of the latency`,
    table(['stage', 'p50', 'p90', 'p99', 'max', 'slowest stage of the slowest 1%'], stages.stages.map(row)),
    describeSlow(stages, (value) => ms(value, 1)),
    '',
  ];
}

/** A Markdown table: readable in a terminal, pasted as is into docs/performance.md. */
function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: string[]) => `| ${cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line), ''].join('\n');
}

export function ms(value: number, digits = 0): string {
  return `${round(value, digits).toLocaleString('en', { minimumFractionDigits: digits })} ms`;
}

/**
 * A ratio with two decimals, or more when two would print it equal to the `limit` it is judged
 * against (0.6996 beside 0.7 is 0.6996x, not a missed 0.70x).
 */
function x(ratio: number, limit?: number): string {
  let digits = 2;
  while (limit !== undefined && ratio !== limit && digits < 6 && round(ratio, digits) === round(limit, digits))
    digits++;
  return `${round(ratio, digits).toFixed(digits)}x`;
}

function bytes(value: number): string {
  return `${round(value, 0).toLocaleString('en')} B`;
}

export function perSecond(value: number): string {
  return `${Math.round(value).toLocaleString('en')}/s`;
}

function rps(value: number): string {
  return `${Math.round(value).toLocaleString('en')} req/s`;
}

/** What stalled during the load at the offered rate. */
function stallsSection(stalls: Stalls): string[] {
  const redis = stalls.redis.length
    ? stalls.redis.map(({ event, maxMs }) => `${event} ${ms(maxMs)}`).join(', ')
    : `none of ${LATENCY_THRESHOLD_MS} ms or more`;
  return [
    `stalls: the same load again (${stalls.seconds.toFixed(0)} s) with the parts watched, which perturbs it (p99 ${ms(stalls.p99Ms ?? Number.NaN, 1)}, p99.9 ${ms(stalls.p999Ms ?? Number.NaN, 1)} in this run; not the figures above): Redis's main thread (its latency monitor, the longest of each kind): ${redis}; the services' event loops (a timer every ${EVENT_LOOP_SAMPLE_MS} ms: how late it fired) and garbage collection:`,
    table(
      ['services', 'loop delay p99 (worst)', 'loop delay max', 'GC per second of load'],
      stalls.services.map((s) => [
        `${s.kind} x ${s.services}`,
        ms(s.loopDelayP99Ms, 1),
        ms(s.loopDelayMaxMs, 1),
        ms(s.gcMsPerSecond, 1),
      ]),
    ),
    '',
  ];
}
