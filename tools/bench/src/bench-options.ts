/** The command line of `pnpm bench`. */
import { parseArgs } from 'node:util';
import { HISTORIES, type History } from './fill-history.ts';

export const GROUPS = [
  'replay',
  'restart_to_ready',
  'serve',
  'visibility',
  'transfers',
  'cluster',
  'memory',
  'dashboard',
] as const;
export type Group = (typeof GROUPS)[number];

export interface BenchOptions {
  quick: boolean;
  /** The groups of figures to take (default: all). */
  groups: Group[];
  /** Where to write the figures as JSON, if anywhere. */
  jsonFile?: string;
  /** Where to write the report to look at (HTML, the charts inline), unless --no-report. */
  reportFile?: string;
  histories: History[];
  /** Runs of each measurement; the median is reported. */
  rounds: number;
  /** Seconds of load per serve run. */
  serveSeconds: number;
  /** Registrations timed by the visibility benchmark. */
  visibilityRegistrations: number;
  /** Seconds of each dashboard window (no page, ten pages). */
  dashboardSeconds: number;
  /** Transfers settled by the memory benchmark, and the retention of their working state. */
  memoryTransfers: number;
  memoryRetentionMs: number;
  /** Another checkout whose transfers group is run alternately with this tree's, if any. */
  compareWith?: string;
  /** Pairs of runs (theirs, ours) of the comparison. */
  comparePairs: number;
  /** Primaries SIGKILLed by the cluster group, and the cluster's cluster-node-timeout. */
  clusterKills: number;
  clusterNodeTimeoutMs: number;
}

/** Where the report goes when no --report is given: the current directory. */
export const DEFAULT_REPORT_FILE = 'bench-report.html';

export const USAGE = `usage: pnpm bench [--quick] [--json FILE] [--report FILE | --no-report] [--sizes 10k,100k,1M,10M] [--groups LIST] [--serve-seconds N]
                  [--compare-with DIR [--compare-pairs N]] [--no-cluster] [--cluster-kills N] [--cluster-node-timeout MS]
  --quick          fewer runs, shorter load, no 10M history (about 3 minutes)
  --json FILE      also write every figure to FILE
  --report FILE    write the report to look at to FILE: one HTML file, no network needed, with the latency
                   histograms and settled/s over time drawn beside their limits, and the targets
                   (default ${DEFAULT_REPORT_FILE}, in the current directory; its path is printed at the end)
  --no-report      write no report
  --sizes LIST     only these histories (default: all; --quick: 10k,100k,1M)
  --groups LIST    only these groups of figures: ${GROUPS.join(',')} (default: all)
  --serve-seconds  seconds of load per serve run (default 5; --quick 2)
  --dashboard-seconds  seconds of each dashboard window, no page then ten pages (default 600; --quick 15)
  --compare-with DIR   also the transfers group of the checkout at DIR (pnpm install done there), run
                   alternately with this tree's (DIR's, ours, DIR's, ours, ...), the same options;
                   side by side with the ratio. Alone (no --groups), only that is run
  --compare-pairs N    pairs of runs of the comparison (default 5; --quick 3)
  --no-cluster     leave out the cluster group (the transfers bank on a Redis Cluster, and its failovers)
  --cluster-kills N    primaries SIGKILLed one after another by the cluster group (default 20; --quick 2)
  --cluster-node-timeout MS  the cluster's cluster-node-timeout (default 5000, the goal's; --quick 1000)`;

export function parseBenchArgs(args: readonly string[]): BenchOptions {
  let values: ReturnType<typeof parseCommandLine>['values'];
  try {
    ({ values } = parseCommandLine(args));
  } catch (error) {
    // Node's message names the flag: "Unknown option '--fast'", "Option '--json <value>' argument missing".
    throw new Error(`${(error as Error).message}\n${USAGE}`);
  }
  const { quick } = values;
  if (values.report !== undefined && values['no-report']) throw new Error('--report and --no-report: choose one');

  const sizes = values.sizes?.split(',') ?? (quick ? ['10k', '100k', '1M'] : HISTORIES.map((h) => h.name));
  const histories = sizes.map((size) => {
    const history = HISTORIES.find((h) => h.name === size);
    if (!history) throw new Error(`unknown size ${size}; sizes are ${HISTORIES.map((h) => h.name).join(', ')}`);
    return history;
  });
  const compareWith = values['compare-with'];
  const givenGroups = values.groups?.split(',');
  const groups = (givenGroups ?? (compareWith ? [] : [...GROUPS]))
    .map((group) => {
      if (!(GROUPS as readonly string[]).includes(group))
        throw new Error(`unknown group ${group}; groups are ${GROUPS.join(', ')}`);
      return group as Group;
    })
    .filter((group) => !(values['no-cluster'] && group === 'cluster'));
  const seconds = (
    flag: 'serve-seconds' | 'dashboard-seconds' | 'compare-pairs' | 'cluster-kills' | 'cluster-node-timeout',
    fallback: number,
  ) => {
    const given = Number(values[flag] ?? fallback);
    if (!Number.isInteger(given) || given < 1) throw new Error(`--${flag} must be a whole number >= 1`);
    return given;
  };
  const nodeTimeoutMs = seconds('cluster-node-timeout', quick ? 1_000 : 5_000);
  // The local stack refuses others (MICROBANK_CLUSTER_NODE_TIMEOUT_MS).
  if (nodeTimeoutMs < 100 || nodeTimeoutMs > 120_000) throw new Error('--cluster-node-timeout must be 100-120000 ms');
  return {
    quick,
    groups,
    jsonFile: values.json,
    reportFile: values['no-report'] ? undefined : (values.report ?? DEFAULT_REPORT_FILE),
    histories,
    rounds: quick ? 3 : 5,
    serveSeconds: seconds('serve-seconds', quick ? 2 : 5),
    visibilityRegistrations: 1_000,
    dashboardSeconds: seconds('dashboard-seconds', quick ? 15 : 600),
    // Long enough a retention that the working state of every transfer is still kept when they are
    // all settled (5,000 take 2 s here, on an idle machine).
    memoryTransfers: quick ? 5_000 : 20_000,
    memoryRetentionMs: quick ? 5_000 : 15_000,
    compareWith,
    comparePairs: seconds('compare-pairs', quick ? 3 : 5),
    clusterKills: seconds('cluster-kills', quick ? 2 : 20),
    clusterNodeTimeoutMs: nodeTimeoutMs,
  };
}

function parseCommandLine(args: readonly string[]) {
  return parseArgs({
    args: [...args],
    options: {
      quick: { type: 'boolean', default: false },
      json: { type: 'string' },
      report: { type: 'string' },
      'no-report': { type: 'boolean', default: false },
      sizes: { type: 'string' },
      groups: { type: 'string' },
      'serve-seconds': { type: 'string' },
      'dashboard-seconds': { type: 'string' },
      'compare-with': { type: 'string' },
      'compare-pairs': { type: 'string' },
      'no-cluster': { type: 'boolean', default: false },
      'cluster-kills': { type: 'string' },
      'cluster-node-timeout': { type: 'string' },
    },
  });
}
