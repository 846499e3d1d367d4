/**
 * `pnpm bench [--quick] [--json FILE] [--report FILE | --no-report]`: recovery and serving figures
 * next to their limits, same machine, same run; printed, and drawn in an HTML report.
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { resolve } from 'node:path';
import { parseBenchArgs, USAGE } from './bench-options.ts';
import { checkTargets, formatReport } from './report.ts';
import { renderReportHtml } from './report-html.ts';
import { runBench } from './run-bench.ts';

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}
let options: ReturnType<typeof parseBenchArgs>;
try {
  options = parseBenchArgs(process.argv.slice(2));
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exit(2);
}

const started = performance.now();
const figures = await runBench(options);
// The machine is shared: what else ran beside the bench shows in its figures.
figures.machine.loadAtEnd = os.loadavg()[0];
const targets = checkTargets(figures);
process.stdout.write(`${formatReport(figures, targets)}\n`);
if (options.jsonFile) {
  writeFileSync(options.jsonFile, `${JSON.stringify({ ...figures, targets }, null, 2)}\n`);
  process.stderr.write(`figures written to ${options.jsonFile}\n`);
}
const reportFile = options.reportFile && resolve(options.reportFile);
if (reportFile) writeFileSync(reportFile, renderReportHtml(figures, targets));
process.stderr.write(`bench finished in ${Math.round((performance.now() - started) / 1000)} s\n`);
// Last, so that it is the line to copy into a browser.
if (reportFile) process.stderr.write(`report written to ${reportFile}\n`);
