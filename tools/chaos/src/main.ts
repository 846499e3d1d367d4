/**
 * `pnpm chaos [--verify]`: the chaos monkey for the local stack. Targets the stack `pnpm start`
 * runs (on MICROBANK_DATA_DIR, default .data/); when none runs, starts its own in a temporary
 * data dir on free ports and stops it afterwards.
 *   --kills N          stop after N kills (default 20)...
 *   --pauses N         ...and N pauses: SIGSTOP, SIGCONT 2.5-6 s later (default 0)
 *   --duration S       or after S seconds (default: no limit)
 *   --interval S       seconds between disruptions (default 1)
 *   --seed N           the seed of the sequence (default: random, printed)
 *   --components a,b   only these (default: every component of the stack)
 *   --memory-pressure  now and then Redis's maxmemory just above what it uses, for a few seconds
 *   --cluster          on a stack with a Redis Cluster (`pnpm start --cluster`; started with one
 *                      when none runs, MICROBANK_CLUSTER_NODE_TIMEOUT_MS its node timeout): faults
 *                      on the cluster, each followed by a wait until it is whole again...
 *   --primary-kills N  ...SIGKILLs of a shard's primary (default 50)
 *   --failovers N      ...CLUSTER FAILOVERs (default 50)
 *   --replica-kills N  ...SIGKILLs of a replica (default 10); with --cluster, --kills defaults to 0
 *                      and kills only services
 *   --clients N        clients sending transfers at once (default 8)
 *   --verify           run a load meanwhile and check that nothing acknowledged was lost
 *   --json FILE        write the report as JSON
 * Ctrl-C ends the run early: paused components are continued and maxmemory put back (a second
 * Ctrl-C exits at once, still continuing them), and nothing is checked.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  componentsOf,
  readPid,
  readPlan,
  type StackPlan,
  type StackProcess,
  stackSettings,
  startStackProcess,
} from '@microbank/local-stack';
import { isLiveProcess } from '@microbank/processes';
import { runChaos } from './chaos.ts';
import { formatReport } from './report.ts';

const { values } = parseArgs({
  options: {
    kills: { type: 'string' },
    pauses: { type: 'string', default: '0' },
    duration: { type: 'string' },
    interval: { type: 'string', default: '1' },
    seed: { type: 'string' },
    components: { type: 'string' },
    'memory-pressure': { type: 'boolean', default: false },
    cluster: { type: 'boolean', default: false },
    'primary-kills': { type: 'string', default: '50' },
    failovers: { type: 'string', default: '50' },
    'replica-kills': { type: 'string', default: '10' },
    clients: { type: 'string', default: '8' },
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
const seed = Math.floor(number('seed', values.seed, Math.floor(Math.random() * 2 ** 31)));
const intervalMs = number('interval', values.interval, 1) * 1000;
const cluster = values.cluster ?? false;
const kills = Math.floor(number('kills', values.kills, cluster ? 0 : 20));
const clusterFaults = cluster
  ? {
      primaryKills: Math.floor(number('primary-kills', values['primary-kills'], 50)),
      failovers: Math.floor(number('failovers', values.failovers, 50)),
      replicaKills: Math.floor(number('replica-kills', values['replica-kills'], 10)),
    }
  : undefined;
const transferClients = Math.max(1, Math.floor(number('clients', values.clients, 8)));
if (cluster && values['memory-pressure']) fail('--memory-pressure works on a single Redis only, not with --cluster');
const pauses = Math.floor(number('pauses', values.pauses, 0));
const durationMs = number('duration', values.duration, Number.POSITIVE_INFINITY / 1000) * 1000;

const say = (line: string) => console.log(`chaos | ${line}`);
const { dataDir } = stackSettings();
const running = readPid(dataDir, 'stack');
let stack: StackProcess | undefined;
let plan: StackPlan | undefined;
if (running && isLiveProcess(Number(running.handle), running.marker)) {
  plan = readPlan(dataDir);
  say(`using the running stack (data in ${dataDir})`);
  if (plan && cluster && !plan.redisCluster)
    fail('--cluster: the running stack has one Redis; start it with `pnpm start --cluster`');
}
if (!plan) {
  const ownDir = mkdtempSync(join(tmpdir(), 'microbank-chaos-'));
  say(`no stack is running: starting one${cluster ? ' on a Redis Cluster' : ''} in ${ownDir}`);
  stack = await startStackProcess(ownDir, { args: cluster ? ['--cluster'] : [] });
  plan = stack.plan;
}

const every = componentsOf(plan);
// On a cluster the nodes are the faults' to disrupt; the kills take the services unless told otherwise.
const byDefault = cluster ? plan.services.map((spec) => spec.name) : every;
const components = values.components === undefined ? byDefault : values.components.split(',').filter(Boolean);
const unknown = components.filter((name) => !every.includes(name));
if (unknown.length > 0 || components.length === 0) {
  await stack?.stop();
  fail(`--components takes some of ${every.join(', ')}; got "${values.components}"`);
}

// Ctrl-C: the run ends early and cleans up (continues the paused, lifts the memory pressure);
// a second one exits now, and the run's 'exit' handler still continues the paused.
const interrupt = new AbortController();
const onSignal = (signal: NodeJS.Signals) => {
  if (interrupt.signal.aborted) process.exit(130);
  say(`${signal}: ending the run (paused components continued, maxmemory put back); again to exit now`);
  interrupt.abort();
};
process.on('SIGINT', onSignal);
process.on('SIGTERM', onSignal);

let passed = false;
try {
  const report = await runChaos({
    plan,
    seed,
    kills,
    pauses,
    durationMs,
    intervalMs,
    components,
    memoryPressure: values['memory-pressure'] ?? false,
    ...(clusterFaults && { clusterFaults }),
    transferClients,
    verify: values.verify ?? false,
    signal: interrupt.signal,
    say,
  });
  console.log(formatReport(report, intervalMs));
  if (values.json) writeFileSync(values.json, `${JSON.stringify(report, null, 2)}\n`);
  passed = report.passed;
} finally {
  if (stack) {
    await stack.stop();
    rmSync(plan.dataDir, { recursive: true, force: true });
  }
}
process.exit(interrupt.signal.aborted ? 130 : passed ? 0 : 1);
