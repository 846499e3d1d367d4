/**
 * `pnpm chaos [--verify]`: the chaos monkey for the local stack. Targets the stack `pnpm start`
 * runs; when none runs, starts its own in a temporary data dir and stops it afterwards.
 *   --kills N        stop after N kills (default 20)
 *   --duration S     or after S seconds (default: no limit)
 *   --interval S     seconds between kills (default 1)
 *   --seed N         the seed of the kill sequence (default: random, printed)
 *   --components a,b only these (default: all five)
 *   --verify         run a load meanwhile and check that nothing acknowledged was lost
 *   --json FILE      write the report as JSON
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  COMPONENTS,
  type Component,
  dataDir,
  isComponent,
  isLiveProcess,
  readPid,
  type StackProcess,
  startStackProcess,
} from '@microbank/local-stack';
import { runChaos } from './chaos.ts';
import { formatReport } from './report.ts';

const { values } = parseArgs({
  options: {
    kills: { type: 'string', default: '20' },
    duration: { type: 'string' },
    interval: { type: 'string', default: '1' },
    seed: { type: 'string' },
    components: { type: 'string', default: COMPONENTS.join(',') },
    verify: { type: 'boolean', default: false },
    json: { type: 'string' },
  },
});

function fail(message: string): never {
  console.error(`chaos: ${message}`);
  process.exit(2);
}
const number = (flag: string, value: string | undefined, fallback: number) => {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed < 0) fail(`--${flag} must be a non-negative number, got "${value}"`);
  return parsed;
};
const components = (values.components ?? '').split(',').filter(Boolean);
const unknown = components.filter((name) => !isComponent(name));
if (unknown.length > 0 || components.length === 0)
  fail(`--components takes some of ${COMPONENTS.join(', ')}; got "${values.components}"`);
const seed = Math.floor(number('seed', values.seed, Math.floor(Math.random() * 2 ** 31)));
const intervalMs = number('interval', values.interval, 1) * 1000;

const say = (line: string) => console.log(`chaos | ${line}`);
const running = readPid(dataDir(), 'redis');
let stack: StackProcess | undefined;
let data = dataDir();
if (running && isLiveProcess(Number(running.handle), running.marker)) {
  say(`using the running stack (data in ${data})`);
} else {
  data = mkdtempSync(join(tmpdir(), 'microbank-chaos-'));
  say(`no stack is running: starting one in ${data}`);
  stack = await startStackProcess(data);
}

let passed = false;
try {
  const report = await runChaos({
    dataDir: data,
    seed,
    kills: Math.floor(number('kills', values.kills, 20)),
    durationMs: number('duration', values.duration, Number.POSITIVE_INFINITY / 1000) * 1000,
    intervalMs,
    components: components as Component[],
    verify: values.verify ?? false,
    say,
  });
  console.log(formatReport(report, intervalMs));
  if (values.json) writeFileSync(values.json, `${JSON.stringify(report, null, 2)}\n`);
  passed = report.passed;
} finally {
  if (stack) {
    await stack.stop();
    rmSync(data, { recursive: true, force: true });
  }
}
process.exit(passed ? 0 : 1);
