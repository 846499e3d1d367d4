/** `restart_to_ready`: account-system's bundle from spawn to `/readyz` 200, median of several runs. */
import { startAccountSystem } from './account-system-process.ts';
import type { History } from './fill-history.ts';
import { median } from './stats.ts';

export interface RestartFigures {
  history: string;
  events: number;
  accounts: number;
  runs: number;
  /** Median ms from spawn to `/readyz` 200. */
  medianMs: number;
  minMs: number;
  maxMs: number;
}

export async function restartBench(
  bundle: string,
  redisUrl: string,
  history: History,
  runs: number,
): Promise<RestartFigures> {
  const times: number[] = [];
  for (let run = 0; run < runs; run++) {
    const { service, readyMs } = await startAccountSystem(bundle, redisUrl);
    await service.stop();
    times.push(readyMs);
  }
  return {
    history: history.name,
    events: history.events,
    accounts: history.accounts,
    runs,
    medianMs: median(times),
    minMs: Math.min(...times),
    maxMs: Math.max(...times),
  };
}
