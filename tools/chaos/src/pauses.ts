/**
 * The components the monkey paused: each is continued when its pause is over, and any still paused
 * is continued at once on every way out of a run (its end, an error, Ctrl-C, the process exiting),
 * so a run never leaves a stopped process behind.
 */
import { continueComponent, type PausedComponent, pauseComponent, type StackPlan } from '@microbank/local-stack';
import { timeUntilUp } from './probes.ts';

export interface PauseRecord {
  component: string;
  /** The process (or container) paused. */
  handle: string;
  atMs: number;
  /** As planned. */
  pauseMs: number;
  /** From SIGSTOP to SIGCONT as it happened: shorter when the run was cut short. */
  heldMs?: number;
  /** Killed while it was paused (by a kill of the plan): nothing was left to continue. */
  killedWhilePaused?: boolean;
  /** From SIGCONT until up again; undefined if it was not up before the run ended. */
  backAfterMs?: number;
}

export interface PauseKeeper {
  /** Pauses it now and continues it after `pauseMs`; throws NotRunning when nothing is there. */
  pause(component: string, pauseMs: number): PauseRecord;
  isPaused(component: string): boolean;
  /** It was just killed while paused: its pause is over, with nothing to continue. */
  killed(component: string): void;
  /** Continues every component still paused, now. Synchronous: safe in an 'exit' handler. */
  continueAll(): void;
  /** Resolves once every pause is over and each continued component is up again (60 s at most). */
  ended(): Promise<void>;
}

export function pauseKeeper(plan: StackPlan, started: number): PauseKeeper {
  const active = new Map<string, { paused: PausedComponent; record: PauseRecord; timer: NodeJS.Timeout }>();
  const endings: Promise<void>[] = [];
  const waiters = new Set<() => void>();

  const finish = (component: string, killed = false) => {
    const pause = active.get(component);
    if (!pause) return;
    active.delete(component);
    clearTimeout(pause.timer);
    const { record } = pause;
    record.heldMs = Date.now() - started - record.atMs;
    if (!killed && continueComponent(pause.paused)) {
      endings.push(
        timeUntilUp(plan, component).then((ms) => {
          record.backAfterMs = ms;
        }),
      );
    } else {
      record.killedWhilePaused = true;
    }
    if (active.size === 0) for (const wake of waiters) wake();
  };

  return {
    pause(component, pauseMs) {
      const paused = pauseComponent(plan.dataDir, component);
      const record: PauseRecord = { component, handle: paused.handle, atMs: Date.now() - started, pauseMs };
      active.set(component, { paused, record, timer: setTimeout(() => finish(component), pauseMs) });
      return record;
    },
    isPaused: (component) => active.has(component),
    killed: (component) => finish(component, true),
    continueAll() {
      for (const component of [...active.keys()]) finish(component);
    },
    async ended() {
      if (active.size > 0) await new Promise<void>((resolve) => waiters.add(resolve));
      await Promise.all(endings);
    },
  };
}
