/** Which component the monkey kills next: a seeded, repeatable sequence. */
import { uniformInt } from 'pure-rand/distribution/uniformInt';
import { xoroshiro128plus } from 'pure-rand/generator/xoroshiro128plus';

/** An endless sequence of picks from `components`; the same seed gives the same sequence. */
export function* killPlan<T>(seed: number, components: readonly T[]): Generator<T> {
  if (components.length === 0) throw new Error('nothing to kill');
  const rng = xoroshiro128plus(seed);
  for (;;) yield components[uniformInt(rng, 0, components.length - 1)] as T;
}
