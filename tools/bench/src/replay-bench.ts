/**
 * `replay`: rebuilding the registry projection from scratch, next to bare XRANGE loops reading
 * the same stream in the same process, run after run, so that their ratio holds on a noisy machine.
 */
import { PROJECTION_BATCH_SIZE, STREAM_START, silentLog, startAccountsProjection, streamKey } from '@microbank/events';
import type { Redis } from 'ioredis';
import type { History } from './fill-history.ts';
import { median } from './stats.ts';

export interface ReplayFigures {
  history: string;
  events: number;
  accounts: number;
  /** Median ms of a bare `XRANGE COUNT 10000` loop with string replies (ioredis's default). */
  bareStringsMs: number;
  /**
   * The cheapest read this client does: buffer replies (no conversion of every field to a string)
   * in the projection's own batch size. The floor under any replay with ioredis.
   */
  cheapestReadMs: number;
  /** Median ms from starting the projection to ready. */
  projectionMs: number;
  /** projectionMs / bareStringsMs */
  ratio: number;
  /** projectionMs / cheapestReadMs */
  ratioToCheapest: number;
}

/** The bare loop: `XRANGE ... COUNT 10000`. */
const BARE_BATCH = 10_000;

/** Reads the whole stream, the next batch already requested while the current one is counted. */
export async function bareRead(
  redis: Redis,
  stream: string,
  replies: 'strings' | 'buffers',
  batch = BARE_BATCH,
): Promise<number> {
  type Batch = Array<[id: string | Buffer, fields: unknown]>;
  const fetch = (after: string): Promise<Batch> =>
    replies === 'strings'
      ? (redis.xrange(stream, `(${after}`, '+', 'COUNT', batch) as Promise<Batch>)
      : (redis.xrangeBuffer(stream, `(${after}`, '+', 'COUNT', batch) as unknown as Promise<Batch>);
  let read = 0;
  let next: Promise<Batch> | undefined = fetch(STREAM_START);
  while (next) {
    const entries: Batch = await next;
    const last = entries.at(-1);
    next = last && entries.length === batch ? fetch(String(last[0])) : undefined;
    read += entries.length;
  }
  return read;
}

/** Starts the registry projection as the services do, but without snapshots; ms until ready. */
export async function rebuildRegistry(redisUrl: string, expectAccounts: number): Promise<number> {
  const started = performance.now();
  const accounts = startAccountsProjection({ redisUrl, log: silentLog, name: 'bench', snapshots: false });
  try {
    await accounts.projection.whenReady();
    const ms = performance.now() - started;
    if (accounts.registry.accounts.size !== expectAccounts) {
      throw new Error(`the rebuilt registry has ${accounts.registry.accounts.size} accounts, not ${expectAccounts}`);
    }
    return ms;
  } finally {
    await accounts.close();
  }
}

export async function replayBench(
  redis: Redis,
  redisUrl: string,
  history: History,
  rounds: number,
): Promise<ReplayFigures> {
  const stream = streamKey('accounts');
  const strings: number[] = [];
  const cheapest: number[] = [];
  const projection: number[] = [];
  const time = async (into: number[], run: () => Promise<unknown>) => {
    const started = performance.now();
    await run();
    into.push(performance.now() - started);
  };
  // One unmeasured pass of each, so that the first measured one does not pay for compiling the code.
  await bareRead(redis, stream, 'strings');
  await rebuildRegistry(redisUrl, history.accounts);
  for (let round = 0; round < rounds; round++) {
    await time(strings, () => bareRead(redis, stream, 'strings'));
    await time(cheapest, () => bareRead(redis, stream, 'buffers', PROJECTION_BATCH_SIZE));
    await time(projection, () => rebuildRegistry(redisUrl, history.accounts));
  }
  const figures = {
    bareStringsMs: median(strings),
    cheapestReadMs: median(cheapest),
    projectionMs: median(projection),
  };
  return {
    history: history.name,
    events: history.events,
    accounts: history.accounts,
    ...figures,
    ratio: figures.projectionMs / figures.bareStringsMs,
    ratioToCheapest: figures.projectionMs / figures.cheapestReadMs,
  };
}
