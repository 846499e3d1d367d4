/**
 * `restart_to_ready`: account-system's bundle from spawn to `/readyz` 200, median of several
 * runs, replaying the whole stream (its snapshot deleted before each run) and from a snapshot;
 * each run next to a bare Node process spawned and polled the same way (the floor of any restart).
 */
import { REGISTRY_SNAPSHOT_FORMAT, streamKey } from '@microbank/events';
import { snapshotKey } from '@microbank/streams';
import type { Redis } from 'ioredis';
import type { History } from './fill-history.ts';
import { startAccountSystem, startBareProcess } from './ready-process.ts';
import { median } from './stats.ts';

export type RestartFrom = 'full replay' | 'snapshot';

export interface RestartFigures {
  history: string;
  events: number;
  accounts: number;
  from: RestartFrom;
  runs: number;
  /** Median ms from spawn to `/readyz` 200. */
  medianMs: number;
  minMs: number;
  maxMs: number;
  /** Median ms from spawn to 200 of the bare Node process, measured between the service's runs. */
  bareProcessMs: number;
}

const SNAPSHOT = snapshotKey(streamKey('accounts'), 'registry', REGISTRY_SNAPSHOT_FORMAT);

/** Long enough for the 10M history's full replay and its snapshot. */
const SNAPSHOT_STORED_WITHIN_MS = 120_000;

export async function restartBench(
  bundle: string,
  redis: Redis,
  redisUrl: string,
  history: History,
  from: RestartFrom,
  runs: number,
): Promise<RestartFigures> {
  if (from === 'snapshot' && (await redis.exists(SNAPSHOT)) === 0) {
    // The run that replays the whole stream stores the snapshot the measured runs start from.
    const { process: service } = await startAccountSystem(bundle, redisUrl);
    try {
      await service.logged('snapshot stored', SNAPSHOT_STORED_WITHIN_MS);
    } finally {
      await service.stop();
    }
  }
  const times: number[] = [];
  const bareTimes: number[] = [];
  for (let run = 0; run < runs; run++) {
    const bare = await startBareProcess();
    await bare.process.stop();
    bareTimes.push(bare.readyMs);
    if (from === 'full replay') await redis.del(SNAPSHOT);
    const service = await startAccountSystem(bundle, redisUrl);
    await service.process.stop();
    times.push(service.readyMs);
  }
  return {
    history: history.name,
    events: history.events,
    accounts: history.accounts,
    from,
    runs,
    medianMs: median(times),
    minMs: Math.min(...times),
    maxMs: Math.max(...times),
    bareProcessMs: median(bareTimes),
  };
}
