/**
 * Redis memory pressure, now and then during a run: its maxmemory set just above the memory it uses
 * (with noeviction, so writes are refused with OOM and nothing is evicted) for a few seconds, then
 * lifted back to what it was. Seeded: when each window opens, how long it holds, how close it is.
 * Whatever happens (Redis killed or paused meanwhile, the run cut short), every window is lifted
 * and stop() says whether maxmemory is back as it was.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { connectRedis, redisMemory, silentLog, untilReady, withDeadline } from '@microbank/streams';
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';

export const PRESSURE = {
  /** The first window opens soon, so a short run has one too; then one every few seconds. */
  firstGapMs: { min: 1_000, max: 3_000 },
  gapMs: { min: 3_000, max: 10_000 },
  holdMs: { min: 2_000, max: 5_000 },
  /** maxmemory = used_memory plus this much of it, in thousandths: at or above a 0.9 high-water mark. */
  headroomPerMille: { min: 10, max: 100 },
} as const;

export interface PressureWindow {
  atMs: number;
  /** used_memory as the window opened, and the maxmemory set. */
  usedBytes: number;
  maxmemoryBytes: number;
  /** From the set until the lift was acknowledged. */
  heldMs?: number;
}

export interface MemoryPressure {
  windows: PressureWindow[];
  /** Opens no more windows, lifts any open; `restored`: maxmemory (and its policy) read back as before the run. */
  stop(): Promise<{ restored: boolean; maxmemory: string }>;
}

interface Limits {
  maxmemory: string;
  policy: string;
}

/** How long a lift is tried for (Redis may be restarting) before the run is failed for it. */
const LIFT_DEADLINE_MS = 60_000;

export function startMemoryPressure(
  redisUrl: string,
  seed: number,
  started: number,
  say: (line: string) => void,
): MemoryPressure {
  const redis = connectRedis(redisUrl, 'chaos:memory-pressure', silentLog);
  const rng = xoroshiro128plus((seed ^ 0x2545f491) | 0);
  const draw = ({ min, max }: { min: number; max: number }) => uniformInt(rng, min, max);
  const windows: PressureWindow[] = [];
  const stopping = new AbortController();
  let original: Limits | undefined;
  /** Sleeps; false when stopped meanwhile. */
  const nap = (ms: number) =>
    sleep(ms, undefined, { signal: stopping.signal }).then(
      () => true,
      () => false,
    );
  const readLimits = async (): Promise<Limits> => {
    const [, maxmemory = '0'] = (await redis.config('GET', 'maxmemory')) as string[];
    const [, policy = 'noeviction'] = (await redis.config('GET', 'maxmemory-policy')) as string[];
    return { maxmemory, policy };
  };

  /** Puts maxmemory back, retried until Redis acknowledges (a Redis restarted meanwhile has it back already). */
  const lift = async (): Promise<boolean> => {
    if (!original) return true;
    const deadline = Date.now() + LIFT_DEADLINE_MS;
    for (;;) {
      try {
        await untilReady(redis, AbortSignal.timeout(Math.max(1, deadline - Date.now())));
        await withDeadline(redis.config('SET', 'maxmemory', original.maxmemory), 5_000, 'CONFIG SET maxmemory');
        await withDeadline(
          redis.config('SET', 'maxmemory-policy', original.policy),
          5_000,
          'CONFIG SET maxmemory-policy',
        );
        return true;
      } catch {
        if (Date.now() >= deadline) return false;
        await sleep(100);
      }
    }
  };

  const loop = (async () => {
    while (!original && !stopping.signal.aborted) {
      try {
        await untilReady(redis, stopping.signal);
        original = await readLimits();
      } catch {
        await nap(100);
      }
    }
    for (let gap = draw(PRESSURE.firstGapMs); await nap(gap); gap = draw(PRESSURE.gapMs)) {
      const holdMs = draw(PRESSURE.holdMs);
      const headroom = draw(PRESSURE.headroomPerMille);
      let window: PressureWindow | undefined;
      let setAt = 0;
      try {
        await untilReady(redis, AbortSignal.timeout(5_000));
        const { used } = await redisMemory(redis);
        window = {
          atMs: Date.now() - started,
          usedBytes: used,
          maxmemoryBytes: used + Math.ceil((used * headroom) / 1000),
        };
        windows.push(window);
        setAt = Date.now();
        await redis.config('SET', 'maxmemory-policy', 'noeviction');
        await redis.config('SET', 'maxmemory', String(window.maxmemoryBytes));
        say(
          `memory pressure ${windows.length}: maxmemory ${window.maxmemoryBytes} (used ${used} + ${(headroom / 10).toFixed(1)} %) for ${(holdMs / 1000).toFixed(1)} s`,
        );
        await nap(holdMs);
      } catch (error) {
        say(`memory pressure: ${(error as Error).message} (Redis away?); lifting`);
      } finally {
        // Lifted even when the set seemed to fail: it may have reached Redis all the same.
        if (window) {
          const lifted = await lift();
          window.heldMs = Date.now() - setAt;
          if (!lifted) say('memory pressure: maxmemory could not be lifted; the run fails');
        }
      }
    }
  })();

  return {
    windows,
    async stop() {
      stopping.abort();
      await loop;
      try {
        const lifted = await lift();
        const now = original && lifted ? await withDeadline(readLimits(), 5_000, 'CONFIG GET maxmemory') : undefined;
        const restored = !original || (now?.maxmemory === original.maxmemory && now.policy === original.policy);
        return { restored, maxmemory: now?.maxmemory ?? original?.maxmemory ?? '?' };
      } catch {
        return { restored: false, maxmemory: '?' };
      } finally {
        redis.disconnect();
      }
    },
  };
}
