/**
 * `pnpm test`: runs every `*.test.ts` under packages/ and tools/ with uvu, and fails where uvu alone would
 * pass: no test ran, a suite was never run, or the process hangs on open handles afterwards.
 * `pnpm test:containers` (`--containers`) runs the `*.container-test.ts` instead: the tests that need a
 * Docker engine, which plain `pnpm test` never picks up.
 * Usage: pnpm test [filter], pnpm test:containers [filter]   (only the test files whose path from the repo root
 * matches this regex)
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { spawnNode } from '@microbank/processes';

// Test files live beside their code in packages/ and tools/; an argument narrows them down.
const containers = process.argv[2] === '--containers';
const TEST_FILES = containers ? '(packages|tools)/.*\\.container-test\\.ts$' : '(packages|tools)/.*\\.test\\.ts$';
const filter = process.argv[containers ? 3 : 2];
const pattern = filter ? `^(?=.*(?:${filter}))${TEST_FILES}` : `^${TEST_FILES}`;
const TOTAL_LIMIT_MS = 30 * 60_000;
const EXIT_GRACE_MS = 15_000;

let output = '';
let hungAfterSummary: NodeJS.Timeout | undefined;
// Where the test process writes a diagnostic report when it hangs (SIGUSR2): its open handles.
const reportDir = mkdtempSync(join(tmpdir(), 'microbank-test-report-'));
const uvu = spawnNode('node_modules/uvu/bin.js', {
  nodeOptions: [
    '--import',
    'tsx',
    '--import',
    './tools/testing/src/redis-tracker.ts',
    '--report-on-signal',
    '--report-signal=SIGUSR2',
    `--report-directory=${reportDir}`,
  ],
  args: ['.', pattern, '--ignore', '^\\.data', '--color', 'false'],
  inheritEnv: true,
  env: { FORCE_COLOR: '0' },
  keepLines: 0,
  onLine: (line) => {
    process.stdout.write(`${line}\n`);
    output += `${line}\n`;
    if (!hungAfterSummary && /Duration:/.test(line)) watchForHang();
  },
});

function watchForHang(): void {
  hungAfterSummary = setTimeout(() => {
    void openHandles().then((handles) =>
      fail(`the test process did not exit after its summary; what keeps it alive:\n${handles}`),
    );
  }, EXIT_GRACE_MS);
}

/** The hung test process's referenced libuv handles, from the diagnostic report it writes on SIGUSR2. */
async function openHandles(): Promise<string> {
  uvu.child.kill('SIGUSR2');
  for (let waited = 0; waited < 5_000; waited += 100) {
    const [file] = existsSync(reportDir) ? readdirSync(reportDir).filter((name) => name.endsWith('.json')) : [];
    if (file) {
      try {
        const report = JSON.parse(readFileSync(join(reportDir, file), 'utf8')) as {
          libuv?: Array<Record<string, unknown>>;
        };
        const held = (report.libuv ?? []).filter((handle) => handle.is_active && handle.is_referenced);
        return (
          held.map((handle) => `  ${JSON.stringify(handle)}`).join('\n') || '  (no referenced handle in the report)'
        );
      } catch {
        // Still being written.
      }
    }
    await sleep(100);
  }
  return '  (no diagnostic report came)';
}
const overall = setTimeout(
  () => fail(`tests did not finish within ${TOTAL_LIMIT_MS / 60_000} minutes`),
  TOTAL_LIMIT_MS,
);

void uvu.exited.then(({ code, signal }) => {
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
  console.error(`pnpm ${containers ? 'test:containers' : 'test'}: FAILED: ${reason}`);
  uvu.child.kill('SIGKILL');
  process.exit(1);
}
