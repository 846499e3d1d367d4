/** One bench run: build the bundle, start Redis, fill the histories (if read), take every group of figures. */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { buildServices, bundlePath } from '@microbank/build';
import { ledgerKey, streamKey } from '@microbank/events';
import type { BenchOptions, Group } from './bench-options.ts';
import { startBenchRedis } from './bench-redis.ts';
import { clusterBench } from './cluster-bench.ts';
import { compareBench } from './compare-bench.ts';
import { dashboardBench } from './dashboard-bench.ts';
import { fillHistory, fillLedger } from './fill-history.ts';
import { memoryBench } from './memory-bench.ts';
import { note, progressLine } from './progress.ts';
import { startAccountSystem } from './ready-process.ts';
import {
  type BareFold,
  ledgerBareFold,
  rebuildLedger,
  rebuildRegistry,
  registryBareFold,
  replayBench,
} from './replay-bench.ts';
import type { BenchFigures } from './report.ts';
import { restartBench } from './restart-bench.ts';
import { serveBench } from './serve-bench.ts';
import { transfersBench } from './transfers-bench.ts';
import { visibilityBench } from './visibility-bench.ts';

/** The database of the small, live bank that serve and visibility run against. */
const LIVE_DB = 15;
/** Replayed ledgers live in databases from here on, one per history (histories are in 1, 2, ...). */
const LEDGER_DB = 8;
/** The account whose ledger is replayed. */
const LEDGER_ACCOUNT = 'john-account';
/** Histories longer than this are only restarted, not replayed in-process (the replay sizes). */
const REPLAY_MAX_EVENTS = 1_000_000;

export async function runBench(options: BenchOptions): Promise<BenchFigures> {
  const buildDir = mkdtempSync(join(os.tmpdir(), 'microbank-bench-build-'));
  const redis = await startBenchRedis();
  try {
    note('building the bundles');
    await buildServices(buildDir);
    const bundle = bundlePath('account-system', buildDir);
    const figures: BenchFigures = {
      machine: {
        cpus: os.cpus().length,
        cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
        node: process.versions.node,
        redis: redis.version,
        loadAtStart: os.loadavg()[0] ?? 0,
      },
      quick: options.quick,
      startedAt: new Date().toISOString(),
      replay: [],
      restart_to_ready: [],
    };
    const stream = streamKey('accounts');

    const taking = (group: Group) => options.groups.includes(group);
    // Only replay and restart_to_ready read the histories: filling 1M entries for the others' sake
    // would cost a minute.
    const dbs =
      taking('replay') || taking('restart_to_ready')
        ? options.histories.map((history, i) => ({ history, db: i + 1 }))
        : [];
    for (const { history, db } of dbs) {
      await fillHistory(
        redis.client(db),
        stream,
        history,
        progressLine(`filling ${history.name} (${history.accounts.toLocaleString('en')} accounts)`, history.events),
      );
    }

    for (const [i, { history, db }] of dbs.entries()) {
      if (!taking('replay') || history.events > REPLAY_MAX_EVENTS) continue;
      /** Times replaying `projection` (the registry, a ledger) of this history from `key` in database `at`. */
      const replay = async (
        projection: 'registry' | 'ledger',
        at: number,
        key: string,
        bareFold: () => BareFold,
        rebuild: (url: string) => Promise<number>,
      ) => {
        note(`replay ${projection === 'registry' ? 'the registry' : 'a ledger'}, ${history.name}`);
        figures.replay.push(
          await replayBench(
            redis.client(at),
            key,
            { projection, history: history.name, events: history.events },
            bareFold,
            () => rebuild(redis.url(at)),
            options.rounds,
          ),
        );
      };
      await replay(
        'registry',
        db,
        stream,
        () => registryBareFold(history.accounts),
        (url) => rebuildRegistry(url, history.accounts),
      );
      // A ledger as long as the history: the other projection every account service replays.
      const ledgerDb = LEDGER_DB + i;
      const ledger = ledgerKey(LEDGER_ACCOUNT);
      await fillLedger(
        redis.client(ledgerDb),
        ledger,
        history.events,
        progressLine(`filling a ledger of ${history.name} entries`, history.events),
      );
      await replay(
        'ledger',
        ledgerDb,
        ledger,
        () => ledgerBareFold(history.events),
        (url) => rebuildLedger(url, LEDGER_ACCOUNT, history.events),
      );
    }

    for (const { history, db } of dbs) {
      if (!taking('restart_to_ready')) continue;
      // A full replay of the 10M history takes half a minute: once is enough to show it.
      const fullReplayRuns = history.events > REPLAY_MAX_EVENTS ? 1 : options.rounds;
      for (const [from, runs] of [
        ['full replay', fullReplayRuns],
        ['snapshot', options.rounds],
      ] as const) {
        note(`restart_to_ready ${history.name} from ${from}`);
        figures.restart_to_ready.push(await restartBench(bundle, redis.client(db), redis.url(db), history, from, runs));
      }
    }

    if (taking('transfers')) {
      note('transfers (a bank of 10 accounts, two transfer replicas, balance; Redis with fsync always)');
      figures.transfers = await transfersBench(buildDir, options.quick);
    }

    if (taking('cluster')) {
      note(
        `cluster (the same bank on a Redis Cluster of 3 primaries x 2 replicas, replica confirmation on; ${options.clusterKills} primary kills, cluster-node-timeout ${options.clusterNodeTimeoutMs} ms)`,
      );
      const started = performance.now();
      figures.cluster = await clusterBench(buildDir, {
        quick: options.quick,
        kills: options.clusterKills,
        nodeTimeoutMs: options.clusterNodeTimeoutMs,
      });
      note(
        `cluster took ${Math.round((performance.now() - started) / 1_000)} s; its logged warnings in ${figures.cluster.logFile}`,
      );
    }

    if (taking('memory')) {
      note(
        `memory (${options.memoryTransfers.toLocaleString('en')} transfers between 2 accounts, retention ${options.memoryRetentionMs.toLocaleString('en')} ms, then compaction)`,
      );
      figures.memory = await memoryBench(options.memoryTransfers, options.memoryRetentionMs);
    }

    if (options.compareWith) {
      note(`compare: the transfers group of ${options.compareWith} and of this tree, ${options.comparePairs} pairs`);
      figures.compare = await compareBench(options.compareWith, options.comparePairs, options.quick);
    }

    if (taking('dashboard')) {
      note(`dashboard (the local stack, ${options.dashboardSeconds} s with no page open, then with ten)`);
      figures.dashboard = await dashboardBench(options.dashboardSeconds);
    }

    if (!taking('serve') && !taking('visibility')) return figures;
    await fillHistory(redis.client(LIVE_DB), stream, { events: 2, accounts: 2 });
    const { process: service, port } = await startAccountSystem(bundle, redis.url(LIVE_DB));
    try {
      if (taking('serve')) {
        note(`serve (${options.serveSeconds} s per run)`);
        figures.serve = await serveBench(port, options.serveSeconds, options.quick ? 3 : 7);
      }
      if (taking('visibility')) {
        note(`visibility (${options.visibilityRegistrations} registrations)`);
        figures.visibility = await visibilityBench(redis.client(LIVE_DB), port, options.visibilityRegistrations);
      }
    } finally {
      await service.stop();
    }
    return figures;
  } finally {
    await redis.dispose();
    rmSync(buildDir, { recursive: true, force: true });
  }
}
