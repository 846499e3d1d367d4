/** uvu suites that cannot be forgotten: a suite created but never `.run()` fails the test process. */
import { suite, type Test } from 'uvu';

const notRun = new Set<string>();

process.on('exit', () => {
  if (notRun.size === 0) return;
  console.error(`SUITES NEVER RUN (missing .run()): ${[...notRun].join(', ')}`);
  process.exitCode = 1;
});

export function testSuite<T extends object = Record<string, never>>(name: string, context?: T): Test<T> {
  const created = suite<T>(name, context);
  notRun.add(name);
  const run = created.run;
  created.run = () => {
    notRun.delete(name);
    run();
  };
  return created;
}
