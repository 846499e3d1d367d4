import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnNode, testSuite } from '@microbank/testing';
import { build } from 'esbuild';
import * as assert from 'uvu/assert';

const stacks = testSuite('stack traces of a bundle');

const MAPPER = join(import.meta.dirname, 'source-mapped-stacks.ts');

/** A program bundled as the services are (ESM, source map beside it); its stack trace is printed. */
const PROGRAM = `import { mapStacksToSources } from ${JSON.stringify(MAPPER)};
if (process.env.MAP === '1') mapStacksToSources();
class Teller {
  count(): number {
    throw new Error('the till does not balance');
  }
}
try {
  new Teller().count();
} catch (error) {
  console.log((error as Error).stack);
}
`;

let dir = '';
let bundle = '';
stacks.before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'microbank-stacks-'));
  writeFileSync(join(dir, 'teller.ts'), PROGRAM);
  bundle = join(dir, 'dist', 'main.mjs');
  await build({
    entryPoints: [join(dir, 'teller.ts')],
    outfile: bundle,
    bundle: true,
    platform: 'node',
    format: 'esm',
    sourcemap: true,
    logLevel: 'warning',
  });
});
stacks.after(() => rmSync(dir, { recursive: true, force: true }));

async function stackOf(env: Record<string, string>): Promise<string> {
  const run = spawnNode(bundle, { env });
  const { code } = await run.exited;
  assert.is(code, 0, run.lines.join('\n'));
  return run.lines.join('\n');
}

stacks('point at the TypeScript source, with the function names', async () => {
  const stack = await stackOf({ MAP: '1' });
  assert.match(stack, /^Error: the till does not balance/);
  assert.match(stack, new RegExp(`at Teller\\.count \\(${dir}/teller\\.ts:5:11\\)`), stack);
  assert.match(stack, new RegExp(`at ${dir}/teller\\.ts:9:16`), stack);
});

stacks('point at the bundle when not installed, or when the map is missing', async () => {
  assert.match(await stackOf({ MAP: '0' }), /main\.mjs:\d+:\d+/);
  rmSync(`${bundle}.map`);
  const stack = await stackOf({ MAP: '1' });
  assert.match(stack, /^Error: the till does not balance/);
  assert.match(stack, /at Teller\.count \(file:\/\/.*main\.mjs:\d+:\d+\)/, stack);
});

stacks.run();
