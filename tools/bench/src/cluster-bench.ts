/**
 * `cluster`: the transfers bench's bank (10 accounts, balance, two transfer replicas) on a Redis
 * Cluster of 3 primaries × 2 replicas, as `pnpm start --cluster` runs it (the local stack's
 * supervised nodes, AOF fsync always, the settings contract), every acknowledged write confirmed
 * on a replica (REDIS_CONFIRM_REPLICAS=1).
 *   sustained, latency   the same loads as on single Redis (transfers-bench.ts), so the two compare
 *   failover recovery    under a trickle of transfers, a primary serving a slot they touch (the
 *                        transfers stream's, or an account ledger's) is SIGKILLed: from the kill to
 *                        the first transfer asked for after it, touching that primary's slots, seen
 *                        completed on the transfers stream. Before the next kill the killed node is
 *                        back (started again by the stack's supervisor once failed over, as a
 *                        replica) and the cluster whole, each wait with a deadline.
 */
import { randomUUID } from 'node:crypto';
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ledgerKey, transfersKey } from '@microbank/events';
import {
  killComponent,
  planStack,
  readPid,
  type StackCluster,
  stackSettings,
  startClusterRedis,
} from '@microbank/local-stack';
import { isLiveProcess } from '@microbank/processes';
import {
  type ClusterNodeView,
  clusterCommand,
  clusterTopology,
  servesSlot,
  shardIn,
  waitForWholeCluster,
} from '@microbank/redis-runner';
import { NOT_CONFIRMED } from '@microbank/streams';
import { waitFor } from '@microbank/testing';
import { LoadClient } from './http-load.ts';
import type { CpuUse } from './process-cpu.ts';
import { note } from './progress.ts';
import { type LatencyHistogram, percentile } from './stats.ts';
import { readStageEntries, type StageFigures, transferStages } from './transfer-stages.ts';
import {
  type Bank,
  type BankRedis,
  type LoadFigures,
  latencyAt,
  randomPair,
  sendTransfer,
  startBank,
  stopBank,
  sustained,
  transferLoad,
  untilDrained,
  watchSettlements,
} from './transfers-bench.ts';

/** The live primary serving `slot`, as the first answering node among `ports` sees it. */
async function primaryOf(ports: number[], slot: number): Promise<ClusterNodeView> {
  for (const port of ports) {
    const shard = await clusterTopology(port).then(
      (view) => shardIn(view, slot),
      () => undefined,
    );
    if (shard) return shard.primary;
  }
  throw new Error(`no node of the cluster names a primary for slot ${slot}`);
}

/** Whether the first answering node among `ports` flags the node `id` failed (`fail`, not the suspicion `fail?`). */
async function flaggedFailed(ports: number[], id: string): Promise<boolean> {
  for (const port of ports) {
    const view = await clusterTopology(port).catch(() => undefined);
    if (view) return view.some((node) => node.id === id && node.flags.includes('fail'));
  }
  return false;
}

/** `CLUSTER KEYSLOT key`, asked of the first node that answers. */
async function slotOfKey(ports: number[], key: string): Promise<number> {
  for (const port of ports) {
    const slot = await clusterCommand(port, ['CLUSTER', 'KEYSLOT', key]).then(Number, () => undefined);
    if (slot !== undefined) return slot;
  }
  throw new Error('no node of the cluster answered CLUSTER KEYSLOT');
}

export interface ClusterBenchOptions {
  quick: boolean;
  kills: number;
  nodeTimeoutMs: number;
}

export interface KillFigure {
  /** What the killed primary served that the transfers touch. */
  target: string;
  node: string;
  /** Kill → the first transfer asked for after it, touching the primary's slots, seen completed. */
  recoveredMs: number;
  /** Kill → a replica serves the killed primary's slots, as a surviving node sees it: the cluster's part. */
  failedOverMs: number;
  /**
   * Kill → a surviving node flags the killed one `fail`: the primaries agreed it is down (each
   * suspects it after cluster-node-timeout, and learns the others do by gossip), and its replicas
   * may hold their election. Infinite (null in the JSON) when no look saw the flag: it lasts until
   * the node is back, which on a loaded machine with a short node timeout can come within one look.
   */
  flaggedMs: number;
  /** Kill → the first such transfer's 202. */
  acceptedMs: number;
  /** Kill → the killed node back as a replica and the cluster whole again. */
  wholeMs: number;
}

export interface ClusterFigures extends LoadFigures {
  /** The latency run's histogram (older JSON figures have none). */
  latencyHistogram?: LatencyHistogram;
  /** Where the latency at the offered rate went, stage by stage (older JSON figures have none). */
  stages?: StageFigures;
  primaries: number;
  replicasPerPrimary: number;
  nodeTimeoutMs: number;
  confirmReplicas: number;
  cpu: CpuUse;
  kills: KillFigure[];
  recoveryP50Ms: number;
  recoveryP99Ms: number;
  recoveryMaxMs: number;
  /** What the trickle's POSTs were answered during the kills. */
  trickle: TrickleAnswers;
  /** Where the warnings and errors the services and nodes logged during the run were written. */
  logFile: string;
}

export interface TrickleAnswers {
  accepted: number;
  /** 503 indeterminate (asked again with the same key until accepted). */
  indeterminate: number;
  /** Any other answer, by status and error (asked again with the same key on a 5xx). */
  other: Record<string, number>;
  /** No answer within the request's deadline, or the connection failed (asked again). */
  unanswered: number;
  /** Completed transfers the watch saw; refused ones (none expected: every account holds plenty). */
  completed: number;
  rejected: number;
}

/** A transfer is started this often during the kills: 40/s, a trickle, not a load. */
const TRICKLE_INTERVAL_MS = 25;
/** A POST not answered within this is asked again with the same key (the services ride a failover out for 12 s). */
const REQUEST_TIMEOUT_MS = 15_000;
/** Longer than any failover here: past this a kill's recovery is recorded as never (an infinite figure). */
const RECOVERY_DEADLINE_MS = 60_000;

export async function clusterBench(buildDir: string, options: ClusterBenchOptions): Promise<ClusterFigures> {
  const dataDir = mkdtempSync(join(tmpdir(), 'microbank-bench-cluster-'));
  const logFile = join(tmpdir(), `microbank-bench-cluster-${Date.now()}.log`);
  const keep = (component: string, line: string) => appendFileSync(logFile, `${component} ${line}\n`);
  const plan = await planStack(
    stackSettings(
      {
        MICROBANK_DATA_DIR: dataDir,
        MICROBANK_PORT_BASE: '0',
        MICROBANK_REDIS_PORT: '0',
        MICROBANK_CLUSTER_NODE_TIMEOUT_MS: String(options.nodeTimeoutMs),
      },
      { cluster: true },
    ),
  );
  const cluster = plan.redisCluster as StackCluster;
  const ports = cluster.nodes.map((node) => node.port);
  const redis = await startClusterRedis(cluster, dataDir, keep);
  let bank: Bank | undefined;
  try {
    const bankRedis: BankRedis = {
      env: { REDIS_URL: plan.redisUrl, REDIS_CLUSTER: 'true', REDIS_CONFIRM_REPLICAS: '1' },
      // The bench's own connections only read: nothing of theirs needs confirming.
      at: { urls: plan.redisUrl.split(','), cluster: true, confirm: NOT_CONFIRMED },
      processes: async () => {
        const view = await clusterTopology(ports[0] as number);
        return cluster.nodes.map((node) => ({
          kind: view.find((seen) => seen.port === node.port)?.role === 'primary' ? 'Redis primaries' : 'Redis replicas',
          pid: Number(readPid(dataDir, node.name)?.handle),
        }));
      },
    };
    bank = await startBank(buildDir, bankRedis);
    const load = transferLoad(options.quick);
    note(`cluster: sustained load, ${load.sustainedSeconds} s`);
    const throughput = await sustained(bank, load.sustainedSeconds);
    await untilDrained(bank);
    note(`cluster: latency at ${load.perSecond}/s, ${load.latencySeconds} s`);
    const latency = await latencyAt(bank, load.perSecond, load.latencySeconds);
    // Read back once the load is over, as the transfers group does; each entry's ID is its own
    // node's clock, and every node runs on this machine: one clock.
    const stages = transferStages(
      latency.timings.values(),
      await readStageEntries(bank.client, bank.accountNames, latency.startedAtMs),
      latency.p99,
      latency.benchPauses,
    );
    const { kills, trickle } = await failovers(bank, cluster, dataDir, options);
    const recoveries = kills.map((kill) => kill.recoveredMs);
    return {
      primaries: cluster.primaries,
      replicasPerPrimary: cluster.replicasPerPrimary,
      nodeTimeoutMs: cluster.nodeTimeoutMs,
      confirmReplicas: 1,
      sustainedPerSecond: throughput.settledPerSecond,
      sustainedSeconds: load.sustainedSeconds,
      acceptedPerSecond: throughput.acceptedPerSecond,
      offeredPerSecond: load.perSecond,
      p50Ms: latency.p50,
      p99Ms: latency.p99,
      latencySamples: latency.samples,
      latencyHistogram: latency.histogram,
      stages,
      cpu: throughput.cpu,
      kills,
      recoveryP50Ms: percentile(recoveries, 50),
      recoveryP99Ms: percentile(recoveries, 99),
      recoveryMaxMs: Math.max(...recoveries),
      trickle,
      logFile,
    };
  } finally {
    if (bank) {
      for (const service of bank.all) {
        for (const line of service.lines)
          if (/"level":"(warn|error|fatal)"/.test(line)) keep(`pid ${service.pid}`, line);
      }
      await stopBank(bank);
    }
    await redis.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

interface Accepted {
  transfer: string;
  from: string;
  to: string;
  /** When it was first asked for, and when its 202 came. */
  sentAt: number;
  at: number;
}

/** Kills `options.kills` primaries one after another under a trickle of transfers. */
async function failovers(bank: Bank, cluster: StackCluster, dataDir: string, options: ClusterBenchOptions) {
  const ports = cluster.nodes.map((node) => node.port);
  const completedAt = new Map<string, number>();
  let rejected = 0;
  const watch = watchSettlements(bank, (transfer, at, type) => {
    if (type === 'TransferCompleted') completedAt.set(transfer, at);
    else rejected++;
  });
  const trickle = startTrickle(bank);
  const streamSlot = await slotOfKey(ports, transfersKey());
  const ledgerSlots = new Map<string, number>();
  for (const account of bank.accountNames) ledgerSlots.set(account, await slotOfKey(ports, ledgerKey(account)));
  const kills: KillFigure[] = [];
  try {
    for (let n = 0; n < options.kills; n++) {
      await waitForWholeCluster(ports, cluster, { timeoutMs: 30_000 });
      // Every other kill aims at a ledger's primary that does not hold the transfers stream, so both
      // kinds of slot a transfer touches are measured.
      const streamPrimary = await primaryOf(ports, streamSlot);
      let target = 'the transfers stream';
      let victim = streamPrimary;
      if (n % 2 === 1) {
        const others = bank.accountNames.filter(
          (account) => !servesSlot(streamPrimary, ledgerSlots.get(account) ?? -1),
        );
        const account = others[Math.floor(n / 2) % Math.max(1, others.length)];
        if (account) {
          target = `the ledger of ${account}`;
          victim = await primaryOf(ports, ledgerSlots.get(account) as number);
        }
      }
      const onIt = new Set(bank.accountNames.filter((account) => servesSlot(victim, ledgerSlots.get(account) ?? -1)));
      const streamOnIt = servesSlot(victim, streamSlot);
      const touches = (t: Accepted) => streamOnIt || onIt.has(t.from) || onIt.has(t.to);
      const node = cluster.nodes.find((each) => each.port === victim.port);
      if (!node) throw new Error(`the primary on ${victim.port} is not one of the cluster's nodes`);

      // Transfers asked for after the kill are accepted after it: only those from here on are looked at.
      const from = trickle.accepted.length;
      const killedPid = killComponent(dataDir, node.name);
      const killedAt = performance.now();
      const firstAfter = () => {
        let accepted = Number.POSITIVE_INFINITY;
        let completed = Number.POSITIVE_INFINITY;
        for (const t of trickle.accepted.slice(from)) {
          // Asked for after the kill: every write of it was made after the kill.
          if (t.sentAt <= killedAt || !touches(t)) continue;
          accepted = Math.min(accepted, t.at);
          const seen = completedAt.get(t.transfer);
          if (seen !== undefined && seen > killedAt) completed = Math.min(completed, seen);
        }
        return { accepted, completed };
      };
      // The cluster's part of the recovery, watched apart from the transfers': a surviving node names
      // another primary for the killed one's first slot.
      const survivors = ports.filter((port) => port !== victim.port);
      const firstSlot = victim.slots[0]?.[0] ?? streamSlot;
      let failedOverAt = Number.POSITIVE_INFINITY;
      let flaggedAt = Number.POSITIVE_INFINITY;
      const failover = (async () => {
        while (performance.now() - killedAt < RECOVERY_DEADLINE_MS) {
          if (flaggedAt === Number.POSITIVE_INFINITY && (await flaggedFailed(survivors, victim.id))) {
            flaggedAt = performance.now();
          }
          const serving = await primaryOf(survivors, firstSlot).catch(() => undefined);
          if (serving && serving.port !== victim.port) {
            failedOverAt = performance.now();
            return;
          }
          await sleep(50);
        }
      })();
      let first = firstAfter();
      while (first.completed === Number.POSITIVE_INFINITY && performance.now() - killedAt < RECOVERY_DEADLINE_MS) {
        await sleep(20);
        first = firstAfter();
      }
      await failover;
      // Back: the stack's supervisor started the node again once its peers failed it over; whole: it
      // rejoined as a replica and synced, every node agreeing.
      const backWithin = 3 * options.nodeTimeoutMs + 5_000 + 30_000;
      await waitFor(
        `${node.name} to be started again after its kill`,
        () => readPid(dataDir, node.name)?.handle,
        (handle) => handle !== undefined && handle !== killedPid && isLiveProcess(Number(handle), 'redis-server'),
        { timeoutMs: backWithin, intervalMs: 50 },
      );
      await waitForWholeCluster(ports, cluster, { timeoutMs: backWithin });
      const kill: KillFigure = {
        target,
        node: node.name,
        recoveredMs: first.completed - killedAt,
        failedOverMs: failedOverAt - killedAt,
        flaggedMs: flaggedAt - killedAt,
        acceptedMs: first.accepted - killedAt,
        wholeMs: performance.now() - killedAt,
      };
      kills.push(kill);
      note(
        `cluster: kill ${n + 1}/${options.kills}: ${node.name} (${target}): failed over after ${Math.round(kill.failedOverMs)} ms, first transfer touching it completed after ${Math.round(kill.recoveredMs)} ms; whole again after ${Math.round(kill.wholeMs)} ms`,
      );
    }
  } finally {
    await trickle.stop();
    await watch.stop();
  }
  return {
    kills,
    trickle: { ...trickle.answers, completed: completedAt.size, rejected },
  };
}

/**
 * Transfers started at a steady rate, each one on its own (open loop: one held up by a failover
 * does not hold the next back, so a transfer requested after a kill is always under way). A 503 (the
 * answer is indeterminate, or Redis is away) or no answer is asked again with the same
 * Idempotency-Key until accepted, as the API asks of a client; any other answer is counted and the
 * transfer dropped.
 */
function startTrickle(bank: Bank) {
  // No socket limit: a transfer waiting out a failover keeps its connection, the next ones get theirs.
  const client = new LoadClient();
  const accepted: Accepted[] = [];
  const answers: Omit<TrickleAnswers, 'completed' | 'rejected'> = {
    accepted: 0,
    indeterminate: 0,
    other: {},
    unanswered: 0,
  };
  let stopped = false;
  const underWay = new Set<Promise<void>>();
  const one = async (port: number) => {
    const sentAt = performance.now();
    const pair = randomPair(bank);
    const key = randomUUID();
    while (!stopped) {
      let answer: Awaited<ReturnType<typeof sendTransfer>>;
      try {
        answer = await sendTransfer(bank, client, port, pair, key, REQUEST_TIMEOUT_MS);
      } catch {
        answers.unanswered++;
        await sleep(100);
        continue;
      }
      if (answer.status === 202 && answer.transfer) {
        answers.accepted++;
        accepted.push({ transfer: answer.transfer, ...pair, sentAt, at: performance.now() });
        return;
      }
      if (answer.status === 503 && answer.body.includes('"indeterminate"')) answers.indeterminate++;
      else {
        const error = /"error":"([^"]+)"/.exec(answer.body)?.[1] ?? 'no error';
        const label = `${answer.status} ${error}`;
        answers.other[label] = (answers.other[label] ?? 0) + 1;
      }
      if (answer.status < 500) return;
      await sleep(100);
    }
  };
  const started = (async () => {
    for (let n = 0; !stopped; n++) {
      const transfer = one(bank.transferPorts[n % bank.transferPorts.length] as number);
      underWay.add(transfer);
      void transfer.finally(() => underWay.delete(transfer));
      await sleep(TRICKLE_INTERVAL_MS);
    }
  })();
  return {
    accepted,
    answers,
    async stop() {
      stopped = true;
      await started;
      await Promise.all(underWay);
      client.close();
    },
  };
}
