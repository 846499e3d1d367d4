import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { spawnNode } from '@microbank/processes';
import * as assert from 'uvu/assert';
import { testSuite } from './test-suite.ts';

const suites = testSuite('test suites');

/** Runs a file of one suite, made from `body`, in a process of its own: its exit code and output. */
async function runSuiteFile(body: string): Promise<{ code: number | null; output: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'microbank-test-suite-'));
  try {
    const file = join(dir, 'fixture.test.ts');
    const from = pathToFileURL(join(import.meta.dirname, 'test-suite.ts')).href;
    writeFileSync(file, `import { testSuite } from '${from}';\n${body}\n`);
    const child = spawnNode(file);
    const { code } = await child.exited;
    return { code, output: child.lines.join('\n') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

for (const [kind, what] of [
  ['before', 'the server would not start: 7f3a'],
  ['after', 'the server would not stop: 9c1e'],
] as const) {
  suites(`a ${kind} hook that throws says why, and the run fails`, async () => {
    const { code, output } = await runSuiteFile(`
const fixture = testSuite('fixture');
fixture.${kind}(() => { throw new Error('${what}'); });
fixture('a test', () => {});
fixture.run();`);
    assert.match(output, new RegExp(`the suite "fixture": its ${kind} hook failed`));
    assert.ok(output.includes(what), output);
    assert.is.not(code, 0, output);
  });
}

suites('hooks that pass change nothing: they run, with the context, around the tests', async () => {
  const { code, output } = await runSuiteFile(`
const fixture = testSuite('fixture', { seen: [] as string[] });
fixture.before((ctx) => { ctx.seen.push('before'); });
fixture.before.each((ctx) => { ctx.seen.push('each'); });
fixture('a test', (ctx) => { ctx.seen.push('test'); });
fixture.after((ctx) => { console.log('seen: ' + ctx.seen.join(',')); });
fixture.run();`);
  assert.is(code, 0, output);
  assert.match(output, /seen: before,each,test/);
});

suites.run();
