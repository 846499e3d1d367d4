/**
 * The chaos monkey for the local stack: every interval it SIGKILLs one component picked by a
 * seeded sequence, and records how long that component took to be up again. With `verify`, a
 * load runs meanwhile and the result is checked once the stack has settled.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { connectRedis, silentLog } from '@microbank/events';
import { killComponent, NotRunning, readPid, recordKill, type StackPlan, serviceUrl } from '@microbank/local-stack';
import { killPlan } from './kill-plan.ts';
import { type ReadCounts, startReadLoad, startRegistrationLoad } from './load.ts';
import { type MoneyVerdict, verifyMoney } from './money-verify.ts';
import { isUp, stackUrls } from './probes.ts';
import { startTransferLoad, type TransferCounts } from './transfer-load.ts';
import { type Verdict, verifyNothingLost } from './verify.ts';

export interface ChaosOptions {
  plan: StackPlan;
  seed: number;
  /** Stop after this many kills... */
  kills: number;
  /** ...or after this long, whichever comes first. */
  durationMs: number;
  intervalMs: number;
  components: readonly string[];
  verify: boolean;
  /** How long the stack may take to settle after the last kill. */
  settleMs?: number;
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
  appends?: { acknowledged: number; retries: number; lost: number };
  reads?: ReadCounts;
  verdict?: Verdict;
  transfers?: TransferCounts;
  money?: MoneyVerdict;
  passed: boolean;
}

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const { plan, seed, say } = options;
  const { dataDir } = plan;
  const urls = stackUrls(plan);
  const started = Date.now();
  const picks = killPlan(seed, options.components);
  const kills: KillRecord[] = [];
  const recoveries: Promise<void>[] = [];

  const { redisUrl } = plan;
  const recorder = connectRedis(redisUrl, 'chaos:disruptions', silentLog);
  const runId = seed.toString(36);
  // The registered accounts answer at john-account's service, so balance can answer for them.
  const appends = options.verify
    ? startRegistrationLoad(redisUrl, runId, serviceUrl(plan, 'john-account'), 20)
    : undefined;
  const reads = options.verify
    ? startReadLoad(
        urls,
        () => appends?.acknowledged[Math.floor(Math.random() * appends.acknowledged.length)]?.account ?? 'john-account',
        10,
      )
    : undefined;
  const ledgerless = () => appends?.acknowledged.slice(-50).map(({ account }) => account) ?? [];
  const transfers = options.verify ? startTransferLoad(plan, seed, 8, 5, ledgerless) : undefined;

  while (kills.length < options.kills && Date.now() - started < options.durationMs) {
    await sleep(options.intervalMs);
    const component = picks.next().value as string;
    let handle: string;
    try {
      handle = killComponent(dataDir, component);
    } catch (error) {
      if (!(error instanceof NotRunning)) throw error;
      say(`skip ${component}: it is not running right now (still starting?)`);
      continue;
    }
    const record: KillRecord = { component, atMs: Date.now() - started };
    kills.push(record);
    void recordKill(recorder, component, 'pnpm chaos', handle);
    say(`kill ${String(kills.length).padStart(3)}: ${component} (${handle}) at ${(record.atMs / 1000).toFixed(1)} s`);
    recoveries.push(trackRecovery(plan, component, handle, record));
  }

  await Promise.all(recoveries);
  recorder.disconnect();
  const settleMs = options.settleMs ?? 60_000;
  await appends?.stop();
  await reads?.stop();
  await transfers?.stop();

  const killsByComponent: Record<string, number> = {};
  const longestRecoveryMs: Record<string, number> = {};
  for (const kill of kills) {
    killsByComponent[kill.component] = (killsByComponent[kill.component] ?? 0) + 1;
    longestRecoveryMs[kill.component] = Math.max(
      longestRecoveryMs[kill.component] ?? 0,
      kill.backAfterMs ?? Number.POSITIVE_INFINITY,
    );
  }
  const report: ChaosReport = {
    seed,
    durationMs: Date.now() - started,
    kills,
    killsByComponent,
    longestRecoveryMs,
    passed: kills.every((kill) => kill.backAfterMs !== undefined),
  };
  if (appends && reads) {
    const verdict = await verifyNothingLost(plan, appends.acknowledged, settleMs);
    const lost = new Set([...verdict.lostInAccountSystem, ...verdict.lostInBalance]).size;
    report.appends = { acknowledged: appends.acknowledged.length, retries: appends.retries, lost };
    report.reads = reads.counts;
    report.verdict = verdict;
    report.passed = report.passed && verdict.passed;
  }
  if (transfers) {
    const money = await verifyMoney(plan, transfers.accepted, settleMs);
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

/** Polls until the component runs again (a new process) and is up; 60 s at most. */
async function trackRecovery(plan: StackPlan, component: string, killed: string, record: KillRecord): Promise<void> {
  const killedAt = Date.now();
  while (Date.now() - killedAt < 60_000) {
    const current = readPid(plan.dataDir, component)?.handle;
    if (current !== undefined && current !== killed && (await isUp(plan, component))) {
      record.backAfterMs = Date.now() - killedAt;
      return;
    }
    await sleep(20);
  }
}
