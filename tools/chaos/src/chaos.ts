/**
 * The chaos monkey for the local stack: every interval it SIGKILLs or pauses (SIGSTOP, then
 * SIGCONT a few seconds later) one component, picked by a seeded sequence, and records how long
 * that component took to be up again; with `memoryPressure`, Redis is now and then left almost no
 * room for a few seconds. With `verify`, a load runs meanwhile and the result is checked once the
 * stack is quiet. Whatever ends the run (its end, an error, the signal), every paused component
 * is continued and Redis's maxmemory put back first.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import {
  accountsOf,
  componentsOf,
  isComponentPaused,
  killComponent,
  NotRunning,
  recordKill,
  type StackPlan,
  serviceUrl,
} from '@microbank/local-stack';
import { NOT_CONFIRMED } from '@microbank/streams';
import {
  type ClusterFaultCounts,
  type ClusterFaultRecord,
  clusterFaultPlan,
  disruptCluster,
  FAULT_OF,
} from './cluster-disruptions.ts';
import { disruptionPlan } from './kill-plan.ts';
import { type ReadCounts, startReadLoad, startRegistrationLoad } from './load.ts';
import { type MemoryPressure, type PressureWindow, startMemoryPressure } from './memory-pressure.ts';
import { type MoneyVerdict, verifyMoney } from './money-verify.ts';
import { type PauseRecord, pauseKeeper } from './pauses.ts';
import { stackUrls, timeUntilUp } from './probes.ts';
import { connectStackRedis, SERVICES_CONFIRMATION } from './stack-redis.ts';
import { startTransferLoad, type TransferCounts } from './transfer-load.ts';
import { type Verdict, verifyNothingLost } from './verify.ts';

export interface ChaosOptions {
  plan: StackPlan;
  seed: number;
  /** Stop after this many kills and `pauses` pauses... */
  kills: number;
  pauses?: number;
  /** ...or after this long, whichever comes first. */
  durationMs: number;
  /** Between two disruptions (a pause lasts longer: others happen meanwhile). */
  intervalMs: number;
  components: readonly string[];
  /** Now and then, Redis's maxmemory just above what it uses, for a few seconds. */
  memoryPressure?: boolean;
  /** On a stack with a Redis Cluster: this many of each fault on it, mixed with the kills and pauses. */
  clusterFaults?: ClusterFaultCounts;
  /** How many clients send transfers at once (default 8). */
  transferClients?: number;
  /** Where the transfers are sent, as base URLs (default: the stack's transfer replicas). */
  transferTargets?: string[];
  verify: boolean;
  /** How long the stack may take to go quiet after the last disruption. */
  quietMs?: number;
  /** Ends the run early (Ctrl-C): the paused are continued, maxmemory put back, nothing checked. */
  signal?: AbortSignal;
  say: (line: string) => void;
}

export interface KillRecord {
  component: string;
  atMs: number;
  /** From the kill until it was up again; undefined if it was not up before the run ended. */
  backAfterMs?: number;
}

export interface ChaosReport {
  seed: number;
  durationMs: number;
  kills: KillRecord[];
  killsByComponent: Record<string, number>;
  longestRecoveryMs: Record<string, number>;
  pauses: PauseRecord[];
  /** From SIGCONT until up again, the longest per component. */
  longestResumeMs: Record<string, number>;
  /** Components paused (stopped) once the run was over: must be none. */
  pausedAtEnd: string[];
  memoryPressure?: { windows: PressureWindow[]; restored: boolean; maxmemory: string };
  /** The faults on the Redis Cluster, in order. */
  clusterFaults?: ClusterFaultRecord[];
  /** Cut short by the signal: nothing was checked. */
  interrupted: boolean;
  appends?: { acknowledged: number; retries: number; unconfirmed: number; lost: number };
  reads?: ReadCounts;
  verdict?: Verdict;
  transfers?: TransferCounts;
  money?: MoneyVerdict;
  passed: boolean;
}

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const { plan, seed, say, signal } = options;
  const { dataDir } = plan;
  const urls = stackUrls(plan);
  const started = Date.now();
  const picks = disruptionPlan(seed, options.components);
  const wanted = { kills: options.kills, pauses: options.pauses ?? 0 };
  const kills: KillRecord[] = [];
  const pauses: PauseRecord[] = [];
  const recoveries: Promise<void>[] = [];
  const paused = pauseKeeper(plan, started);
  // Whatever ends the run (its signal, or this process), no component stays stopped.
  const continueAll = () => paused.continueAll();
  process.on('exit', continueAll);
  if (signal?.aborted) continueAll();
  else signal?.addEventListener('abort', continueAll, { once: true });

  const { redisUrl, redisCluster } = plan;
  const faultsWanted = options.clusterFaults ?? { primaryKills: 0, failovers: 0, replicaKills: 0 };
  const faultsLeft = { ...faultsWanted };
  const faultCount = (counts: ClusterFaultCounts) => counts.primaryKills + counts.failovers + counts.replicaKills;
  if (faultCount(faultsWanted) > 0 && !redisCluster) throw new Error('cluster faults need a stack on a Redis Cluster');
  const faults = clusterFaultPlan(seed, accountsOf(plan));
  const faultRecords: ClusterFaultRecord[] = [];
  let faultsSkipped = 0;
  const recorder = connectStackRedis(plan, 'chaos:disruptions');
  const runId = seed.toString(36);
  // The registered accounts answer at john-account's service, so balance can answer for them.
  // On a cluster they are confirmed as the services confirm theirs: what is acknowledged is checked.
  const appends = options.verify
    ? startRegistrationLoad(
        connectStackRedis(plan, 'chaos:appends', redisCluster ? SERVICES_CONFIRMATION : NOT_CONFIRMED),
        runId,
        serviceUrl(plan, 'john-account'),
        20,
      )
    : undefined;
  const reads = options.verify
    ? startReadLoad(
        urls,
        () => appends?.acknowledged[Math.floor(Math.random() * appends.acknowledged.length)]?.account ?? 'john-account',
        10,
      )
    : undefined;
  const ledgerless = () => appends?.acknowledged.slice(-50).map(({ account }) => account) ?? [];
  const transfers = options.verify
    ? startTransferLoad(plan, seed, options.transferClients ?? 8, 5, ledgerless, options.transferTargets)
    : undefined;
  const pressure: MemoryPressure | undefined = options.memoryPressure
    ? startMemoryPressure(redisUrl, seed, started, say)
    : undefined;

  let pressureEnd: ChaosReport['memoryPressure'];
  const stopLoads = async (answerWaitMs?: number) => {
    await appends?.stop();
    await reads?.stop();
    await transfers?.stop(answerWaitMs);
  };
  const at = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
  let ended = false;
  try {
    while (
      (kills.length < wanted.kills || pauses.length < wanted.pauses || faultCount(faultsLeft) > 0) &&
      Date.now() - started < options.durationMs &&
      !signal?.aborted
    ) {
      if (!(await sleep(options.intervalMs, true, { signal }).catch(() => false))) break;
      const killsOrPauses = wanted.kills - kills.length + wanted.pauses - pauses.length;
      if (redisCluster && faults.comesNext(faultsLeft, killsOrPauses)) {
        const { fault, target } = faults.next(faultsLeft);
        const kind = (Object.keys(FAULT_OF) as Array<keyof ClusterFaultCounts>).find(
          (each) => FAULT_OF[each] === fault,
        );
        if (!kind) throw new Error(`unknown cluster fault ${fault}`);
        let done: Awaited<ReturnType<typeof disruptCluster>>;
        try {
          done = await disruptCluster(plan, redisCluster, fault, target, started);
        } catch (error) {
          // E.g. no replica in reach to fail over to: skipped, done later if the run lasts.
          say(`skip a ${fault} at ${target}: ${(error as Error).message}`);
          if (++faultsSkipped >= 10)
            throw new Error(`10 cluster faults in a row could not be made: ${(error as Error).message}`);
          continue;
        }
        faultsSkipped = 0;
        faultsLeft[kind]--;
        faultRecords.push(done.record);
        if (done.handle) void recordKill(recorder, done.record.node, 'pnpm chaos', done.handle).catch(() => undefined);
        const { failedOverAfterMs, wholeAfterMs } = done.record;
        say(
          `${fault.padEnd(8)} ${String(faultRecords.length).padStart(3)} at ${at(done.record.atMs)}: ${done.message}; ${failedOverAfterMs === undefined ? '' : `served again after ${failedOverAfterMs} ms, `}${wholeAfterMs === undefined ? 'the cluster NOT whole again in time' : `whole again after ${wholeAfterMs} ms`}`,
        );
        continue;
      }
      if (killsOrPauses <= 0) continue;
      const next = picks.next({ kills: wanted.kills - kills.length, pauses: wanted.pauses - pauses.length });
      const { component } = next;
      if (next.kind === 'pause' && paused.isPaused(component)) {
        say(`skip a pause of ${component}: it is paused already`);
        continue;
      }
      let handle: string;
      try {
        if (next.kind === 'kill') {
          handle = killComponent(dataDir, component);
        } else {
          const record = paused.pause(component, next.pauseMs);
          pauses.push(record);
          say(
            `pause ${String(pauses.length).padStart(3)}: ${component} (${record.handle}) at ${at(record.atMs)} for ${at(next.pauseMs)}`,
          );
          continue;
        }
      } catch (error) {
        if (!(error instanceof NotRunning)) throw error;
        say(`skip ${component}: it is not running right now (still starting?)`);
        continue;
      }
      const record: KillRecord = { component, atMs: Date.now() - started };
      kills.push(record);
      void recordKill(recorder, component, 'pnpm chaos', handle).catch(() => undefined);
      const whilePaused = paused.isPaused(component) ? ' (it was paused)' : '';
      paused.killed(component);
      say(`kill  ${String(kills.length).padStart(3)}: ${component} (${handle}) at ${at(record.atMs)}${whilePaused}`);
      recoveries.push(
        timeUntilUp(plan, component, { gone: handle }).then((ms) => {
          record.backAfterMs = ms;
        }),
      );
    }
    // The pauses end in their time (at once when the run is cut short), then everything must be back.
    await paused.ended();
    await Promise.all(recoveries);
    ended = true;
  } finally {
    paused.continueAll();
    process.off('exit', continueAll);
    signal?.removeEventListener('abort', continueAll);
    recorder.disconnect();
    if (pressure) pressureEnd = { windows: pressure.windows, ...(await pressure.stop()) };
    // After an error or the signal nothing is checked: the loads stop without waiting for answers.
    await stopLoads(ended && !signal?.aborted ? undefined : 0);
  }
  const pausedAtEnd = componentsOf(plan).filter((component) => isComponentPaused(dataDir, component));
  const interrupted = signal?.aborted === true;

  const longest = (records: Array<{ component: string; backAfterMs?: number }>) => {
    const result: Record<string, number> = {};
    for (const { component, backAfterMs } of records) {
      result[component] = Math.max(result[component] ?? 0, backAfterMs ?? Number.POSITIVE_INFINITY);
    }
    return result;
  };
  const killsByComponent: Record<string, number> = {};
  for (const kill of kills) killsByComponent[kill.component] = (killsByComponent[kill.component] ?? 0) + 1;
  const continued = pauses.filter((pause) => !pause.killedWhilePaused);
  const report: ChaosReport = {
    seed,
    durationMs: Date.now() - started,
    kills,
    killsByComponent,
    longestRecoveryMs: longest(kills),
    pauses,
    longestResumeMs: longest(continued),
    pausedAtEnd,
    interrupted,
    passed:
      !interrupted &&
      kills.every((kill) => kill.backAfterMs !== undefined) &&
      faultRecords.every(
        (fault) =>
          fault.wholeAfterMs !== undefined && (fault.fault === 'replica' || fault.failedOverAfterMs !== undefined),
      ) &&
      continued.every((pause) => pause.backAfterMs !== undefined) &&
      pausedAtEnd.length === 0 &&
      pressureEnd?.restored !== false,
  };
  if (pressureEnd) report.memoryPressure = pressureEnd;
  if (redisCluster) report.clusterFaults = faultRecords;
  if (interrupted) return report;
  const quietMs = options.quietMs ?? 60_000;
  if (appends && reads) {
    const verdict = await verifyNothingLost(plan, appends.acknowledged, quietMs);
    const lost = new Set([...verdict.lostInAccountSystem, ...verdict.lostInBalance]).size;
    report.appends = {
      acknowledged: appends.acknowledged.length,
      retries: appends.retries,
      unconfirmed: appends.unconfirmed,
      lost,
    };
    report.reads = reads.counts;
    report.verdict = verdict;
    report.passed = report.passed && verdict.passed;
  }
  if (transfers) {
    const money = await verifyMoney(plan, transfers.accepted, quietMs, transfers.indeterminate);
    report.transfers = transfers.counts;
    report.money = money;
    report.passed =
      report.passed &&
      money.passed &&
      transfers.counts.unexpected.length === 0 &&
      transfers.counts.unanswered.length === 0;
  }
  return report;
}
