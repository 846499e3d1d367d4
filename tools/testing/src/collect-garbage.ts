/**
 * A full garbage collection of this process, now, without starting Node with --expose-gc: for a
 * test that must see what a collection leaves, and for the bench before a measured run.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

export function collectGarbage(): void {
  // V8 gives `gc` to contexts made after the flag is set.
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
}
