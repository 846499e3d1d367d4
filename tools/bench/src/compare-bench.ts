/**
 * `--compare-with DIR`: the transfers group of this tree and of another checkout (DIR, installed:
 * `pnpm install`), run alternately in one session (theirs, ours, theirs, ours, ...) with the same
 * options, each as its own `pnpm bench --groups transfers` process, so that both meet the same
 * machine the same way. Each tree runs its own bench against its own bundles: a checkout from
 * before credentials existed sends its transfers without them, as its transfer service expects.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join, resolve } from 'node:path';
import { REPO_ROOT, spawnNode } from '@microbank/processes';
import { note } from './progress.ts';
import type { TransferFigures } from './transfers-bench.ts';

/** The figures of one transfers run, as both trees' benches write them to JSON. */
export type CompareRun = Pick<
  TransferFigures,
  'sustainedPerSecond' | 'acceptedPerSecond' | 'offeredPerSecond' | 'p50Ms' | 'p99Ms' | 'floorPerSecond'
>;

export interface CompareFigures {
  /** The other checkout, as given. */
  baseline: string;
  /** Its commit and this tree's, when they are git checkouts. */
  baselineCommit?: string;
  commit?: string;
  quick: boolean;
  /** Each pair of runs in the order taken: the baseline's, then this tree's. */
  pairs: Array<{ baseline: CompareRun; current: CompareRun }>;
  /** Runs that failed and were taken again. */
  retried: number;
  /** The median of each side's runs (of two, their mean). */
  baselineMedian: CompareRun;
  currentMedian: CompareRun;
  /** This tree over the baseline: the median of each pair's own ratio (of two pairs, their mean). */
  ratios: { sustained: number; p50: number; p99: number; floor: number };
}

const FIELDS = [
  'sustainedPerSecond',
  'acceptedPerSecond',
  'offeredPerSecond',
  'p50Ms',
  'p99Ms',
  'floorPerSecond',
] as const satisfies ReadonlyArray<keyof CompareRun>;

/** One `pnpm bench --groups transfers` of the tree at `dir`; its transfer figures. */
async function transfersRunOnce(dir: string, label: string, quick: boolean): Promise<CompareRun> {
  const out = mkdtempSync(join(os.tmpdir(), 'microbank-bench-compare-'));
  const jsonFile = join(out, 'figures.json');
  try {
    // The smallest history: a bench that fills its histories whatever the groups (an older one) then
    // spends a second on it, not minutes.
    const args = ['--groups', 'transfers', '--sizes', '10k', '--json', jsonFile, ...(quick ? ['--quick'] : [])];
    // A tree whose bench writes a report page is told not to: only the figures are compared. An
    // older bench refuses the flag.
    if (existsSync(join(dir, 'tools/bench/src/report-html.ts'))) args.push('--no-report');
    // In its own process group: a bench that dies without stopping its bank (an older one did, on
    // an uncaught connection reset) leaves its services and Redis servers in that group, ended here.
    const bench = spawnNode('tools/bench/src/main.ts', { args, cwd: dir, inheritEnv: true, detached: true });
    const exit = await bench.exited;
    try {
      process.kill(-bench.pid, 'SIGTERM');
    } catch {
      // Nothing left in the group: the bench stopped everything it started.
    }
    if (exit.code !== 0) {
      throw new Error(
        `the ${label} bench (${dir}) exited with ${exit.code ?? exit.signal}; its last output:\n${bench.lines.slice(-20).join('\n')}`,
      );
    }
    const { transfers } = JSON.parse(readFileSync(jsonFile, 'utf8')) as { transfers?: CompareRun };
    if (!transfers) throw new Error(`the ${label} bench (${dir}) wrote no transfer figures`);
    const run = Object.fromEntries(FIELDS.map((field) => [field, Number(transfers[field])])) as CompareRun;
    note(
      `  ${label}: ${Math.round(run.sustainedPerSecond)}/s settled, p50 ${run.p50Ms.toFixed(1)} ms, p99 ${run.p99Ms.toFixed(1)} ms`,
    );
    return run;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/** The checkout's commit, marked when files differ from it; undefined outside git. */
/**
 * transfersRunOnce, once more if it fails: a bench that stops half-way (an older one's load generator
 * meeting a connection reset, say) costs a run, not the whole comparison.
 */
async function transfersRun(dir: string, label: string, quick: boolean, onRetry: () => void): Promise<CompareRun> {
  try {
    return await transfersRunOnce(dir, label, quick);
  } catch (error) {
    note(`  ${label}: failed, run again. ${(error as Error).message}`);
    onRetry();
    return await transfersRunOnce(dir, label, quick);
  }
}

function commitOf(dir: string): string | undefined {
  try {
    const git = (...args: string[]) => execFileSync('git', ['-C', dir, ...args], { encoding: 'utf8' }).trim();
    const commit = git('rev-parse', '--short=12', 'HEAD');
    return git('status', '--porcelain', '--untracked-files=no') === '' ? commit : `${commit} + uncommitted changes`;
  } catch {
    return undefined;
  }
}

/** The median, the mean of the middle two for an even count (two pairs must not pick a side). */
function middle(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const half = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[half] as number)
    : ((sorted[half - 1] as number) + (sorted[half] as number)) / 2;
}

export async function compareBench(baselineDir: string, pairs: number, quick: boolean): Promise<CompareFigures> {
  const baseline = resolve(baselineDir);
  const taken: CompareFigures['pairs'] = [];
  let retried = 0;
  const retry = () => {
    retried++;
  };
  for (let i = 1; i <= pairs; i++) {
    note(`compare, pair ${i} of ${pairs}: ${baseline}, then this tree`);
    const before = await transfersRun(baseline, 'baseline', quick, retry);
    const after = await transfersRun(REPO_ROOT, 'this tree', quick, retry);
    taken.push({ baseline: before, current: after });
  }
  const medianOf = (side: 'baseline' | 'current') =>
    Object.fromEntries(FIELDS.map((field) => [field, middle(taken.map((pair) => pair[side][field]))])) as CompareRun;
  const ratio = (field: keyof CompareRun) => middle(taken.map((pair) => pair.current[field] / pair.baseline[field]));
  return {
    baseline: baselineDir,
    baselineCommit: commitOf(baseline),
    commit: commitOf(REPO_ROOT),
    quick,
    pairs: taken,
    retried,
    baselineMedian: medianOf('baseline'),
    currentMedian: medianOf('current'),
    ratios: {
      sustained: ratio('sustainedPerSecond'),
      p50: ratio('p50Ms'),
      p99: ratio('p99Ms'),
      floor: ratio('floorPerSecond'),
    },
  };
}
