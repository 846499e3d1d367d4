/**
 * uvu suites that cannot be forgotten: a suite created but never `.run()` fails the test process.
 * And whose `before` and `after` hooks say why they failed: uvu runs them inside a `try` whose
 * `finally` returns, so a hook that throws shows only as a suite of "(0 / n)", its error lost.
 */
import { suite, type Test } from 'uvu';

const notRun = new Set<string>();

/** Suites whose hook threw: uvu counts no failure for that, and sets the exit code by its count. */
const failedHooks: string[] = [];

process.on('exit', () => {
  if (failedHooks.length > 0) {
    console.error(`HOOKS FAILED: ${failedHooks.join(', ')}`);
    process.exitCode = 1;
  }
  if (notRun.size === 0) return;
  console.error(`SUITES NEVER RUN (missing .run()): ${[...notRun].join(', ')}`);
  process.exitCode = 1;
});

export function testSuite<T extends object = Record<string, never>>(name: string, context?: T): Test<T> {
  const created = suite<T>(name, context);
  notRun.add(name);
  created.before = reporting(created.before, name, 'before');
  created.after = reporting(created.after, name, 'after');
  const run = created.run;
  created.run = () => {
    notRun.delete(name);
    run();
  };
  return created;
}

type Hook<T> = Test<T>['before'];

/** `register` (a suite's `before` or `after`), its hooks printing their error before it is thrown. */
function reporting<T>(register: Hook<T>, suite: string, kind: 'before' | 'after'): Hook<T> {
  const wrapped = ((hook: Parameters<Hook<T>>[0]) =>
    register(async (context) => {
      try {
        await hook(context);
      } catch (error) {
        console.error(`\nthe suite "${suite}": its ${kind} hook failed:`, error);
        failedHooks.push(`${suite} (${kind})`);
        throw error;
      }
    })) as Hook<T>;
  wrapped.each = register.each;
  return wrapped;
}
