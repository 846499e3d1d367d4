/** What the monkey does next, and to which component: a seeded, repeatable sequence. */
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';

/** An endless sequence of picks from `components`; the same seed gives the same sequence. */
export function* killPlan<T>(seed: number, components: readonly T[]): Generator<T> {
  if (components.length === 0) throw new Error('nothing to kill');
  const rng = xoroshiro128plus(seed);
  for (;;) yield components[uniformInt(rng, 0, components.length - 1)] as T;
}

/**
 * How long a pause lasts: longer than the processors' claim time (CLAIM_IDLE_MS, 2 s in the local
 * stack), so the other replica claims a paused processor's transfers before it wakes up and goes on.
 */
export const PAUSE_MS = { min: 2_500, max: 6_000 } as const;

export type Disruption = { kind: 'kill'; component: string } | { kind: 'pause'; component: string; pauseMs: number };

export interface DisruptionPlan {
  /** The next disruption, given how many kills and pauses are still to come (at least one of either). */
  next(remaining: { kills: number; pauses: number }): Disruption;
}

/**
 * Kills and pauses mixed in a seeded order (each the next with the odds of what remains to do),
 * of the components killPlan picks: a run without pauses kills what it killed before.
 */
export function disruptionPlan(seed: number, components: readonly string[]): DisruptionPlan {
  const picks = killPlan(seed, components);
  // A generator of its own, so that the kinds and lengths do not move the picks.
  const rng = xoroshiro128plus((seed ^ 0x5bd1e995) | 0);
  return {
    next({ kills, pauses }) {
      if (kills + pauses <= 0) throw new Error('nothing left to do');
      const component = picks.next().value as string;
      if (uniformInt(rng, 1, kills + pauses) <= kills) return { kind: 'kill', component };
      return { kind: 'pause', component, pauseMs: uniformInt(rng, PAUSE_MS.min, PAUSE_MS.max) };
    },
  };
}
