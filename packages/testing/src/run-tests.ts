/**
 * `pnpm test`: runs every `*.test.ts` under packages/, k8s/ and scripts/ with uvu, and fails where uvu alone would
 * pass: no test ran, a suite was never run, or the process hangs on open handles afterwards.
 * Usage: pnpm test [filter]   (only the test files whose path from the repo root matches this regex)
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../..', import.meta.url));
// Test files live beside their code in packages/, k8s/ and scripts/; an argument narrows them down.
const TEST_FILES = '(packages|k8s|scripts)/.*\\.test\\.ts$';
const filter = process.argv[2];
const pattern = filter ? `^(?=.*(?:${filter}))${TEST_FILES}` : `^${TEST_FILES}`;
const TOTAL_LIMIT_MS = 30 * 60_000;
const EXIT_GRACE_MS = 15_000;

const child = spawn(
  process.execPath,
  ['--import', 'tsx', 'node_modules/uvu/bin.js', '.', pattern, '--ignore', '^\\.data', '--color', 'false'],
  { cwd: root, stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, FORCE_COLOR: '0' } },
);

let output = '';
let hungAfterSummary: NodeJS.Timeout | undefined;
child.stdout.on('data', (chunk: Buffer) => {
  process.stdout.write(chunk);
  output += chunk.toString();
  if (!hungAfterSummary && /Duration:/.test(output)) {
    hungAfterSummary = setTimeout(
      () => fail('the test process did not exit after its summary (open handles?)'),
      EXIT_GRACE_MS,
    );
  }
});
const overall = setTimeout(
  () => fail(`tests did not finish within ${TOTAL_LIMIT_MS / 60_000} minutes`),
  TOTAL_LIMIT_MS,
);

child.on('exit', (code, signal) => {
  clearTimeout(overall);
  clearTimeout(hungAfterSummary);
  const total = Number(/Total:\s+(\d+)/.exec(output)?.[1] ?? 0);
  const passed = Number(/Passed:\s+(\d+)/.exec(output)?.[1] ?? 0);
  console.log(`\n${passed} passed, ${total - passed} failed`);
  if (total === 0) return fail('no test ran');
  if (code !== 0) return fail(`uvu exited with ${code ?? signal}`);
  if (passed !== total) return fail(`${total - passed} of ${total} tests failed`);
});

function fail(reason: string): void {
  console.error(`pnpm test: FAILED: ${reason}`);
  child.kill('SIGKILL');
  process.exit(1);
}
