/**
 * `pnpm start [--from-sources] [--cluster]`: the local stack. Builds the services' bundles (what the
 * image runs), then runs Redis (AOF in <data dir>/redis; with --cluster a Redis Cluster of 3 primaries
 * × 2 replicas, each node in <data dir>/redis-cluster/redis-<n>) and the services, each kept running;
 * john-account registers before mary-account; the URLs are printed once all are ready; Ctrl-C or
 * SIGTERM stops everything, Redis last. --from-sources runs the TypeScript sources through tsx.
 * The services' JSON logs are shown as readable lines; --json-logs shows them as they are.
 */
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { buildServices } from '@microbank/build';
import { streamKey } from '@microbank/events';
import { findRedisServerBinary, redisUnavailable } from '@microbank/redis-runner';
import { type StackClusterRedis, startClusterRedis } from './cluster-redis.ts';
import { recordStack, runningStack, stopLeftovers } from './leftovers.ts';
import { removeStackFiles } from './pid-files.ts';
import { readableLine } from './readable-logs.ts';
import { freePortOrExplain, waitUntilReady } from './readiness.ts';
import { redisRunner } from './redis-runner.ts';
import { componentsOf, planStack, SettingsError, serviceUrl, stackSettings, writePlan } from './stack-plan.ts';
import { credentialFile, stackSecrets } from './stack-secrets.ts';
import { type Say, type Supervised, serviceRunner, supervise } from './supervisor.ts';

const { values: flags } = parseArgs({
  options: {
    'from-sources': { type: 'boolean', default: false },
    'json-logs': { type: 'boolean', default: false },
    cluster: { type: 'boolean', default: false },
  },
});
const fromSources = flags['from-sources'] ?? false;
const shown = flags['json-logs'] ? (line: string) => line : readableLine;

let width = 'stack'.length;
const say: Say = (component, line) => process.stdout.write(`${component.padEnd(width)} | ${shown(line)}\n`);
// Whatever read our output may be gone (a pipe closed by the same Ctrl-C): stopping goes on regardless.
process.stdout.on('error', () => {});
function fail(message: string): never {
  say('stack', message);
  process.exit(1);
}

let settings: ReturnType<typeof stackSettings>;
try {
  settings = stackSettings(process.env, { cluster: flags.cluster ?? false });
} catch (error) {
  if (!(error instanceof SettingsError)) throw error;
  fail(error.message);
}
const { dataDir } = settings;

const missing = await redisUnavailable();
if (missing) fail(missing);
// The cluster's nodes are redis-server processes on this machine (no container path for them).
if (settings.cluster && !findRedisServerBinary())
  fail('--cluster runs redis-server and redis-cli from PATH: install Redis (apt-get install redis-server redis-tools)');
const other = runningStack(dataDir);
if (other !== undefined)
  fail(`a stack is already running on ${dataDir} (pid ${other}): stop it first (Ctrl-C in its terminal)`);
await stopLeftovers(dataDir, (line) => say('stack', line));
recordStack(dataDir);

const plan = await planStack(settings);
width = Math.max(...componentsOf(plan).map((name) => name.length), width);
try {
  if (plan.redisCluster) {
    for (const node of plan.redisCluster.nodes) {
      await freePortOrExplain(node.port, node.name);
      await freePortOrExplain(node.busPort, `${node.name}'s cluster bus`);
    }
  } else {
    await freePortOrExplain(plan.redisPort, 'redis');
  }
  for (const spec of plan.services) await freePortOrExplain(spec.port, spec.name);
} catch (error) {
  fail((error as Error).message);
}
if (!fromSources) {
  const started = performance.now();
  try {
    await buildServices();
  } catch (error) {
    fail(`building the services' bundles failed: ${(error as Error).message}`);
  }
  say('stack', `built the services' bundles in ${Math.round(performance.now() - started)} ms`);
}
writePlan(plan);
const secrets = stackSecrets(dataDir);

const services: Supervised[] = [];
let redis: Supervised | undefined;
let cluster: StackClusterRedis | undefined;
let stopping = false;
const stop = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  say('stack', `${signal}: stopping the services, then Redis`);
  try {
    await Promise.all(services.map((service) => service.stop()));
  } finally {
    await redis?.stop();
    await cluster?.stop();
  }
  removeStackFiles(dataDir);
  say('stack', 'stopped');
  process.exit(0);
};
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));

say(
  'stack',
  `data in ${dataDir}; running the services from ${fromSources ? 'their TypeScript sources' : 'their bundles'}`,
);
if (plan.redisCluster) {
  const { nodes, primaries, replicasPerPrimary, nodeTimeoutMs } = plan.redisCluster;
  try {
    cluster = await startClusterRedis(plan.redisCluster, dataDir, say, { cancelled: () => stopping });
  } catch (error) {
    if (stopping) process.exit(0);
    fail(`the Redis Cluster did not form: ${(error as Error).message}`);
  }
  say(
    'stack',
    `Redis Cluster ${cluster.formed === 'created' ? 'created' : 'rejoined from its nodes.conf'}: ${primaries} primaries × ${replicasPerPrimary} replicas on ports ${nodes.map((node) => node.port).join(', ')} (cluster-node-timeout ${nodeTimeoutMs} ms)`,
  );
} else {
  redis = supervise('redis', redisRunner(plan.redisPort, join(dataDir, 'redis'), say), dataDir, say);
}
const started = new Set<string>();
const start = (name: string) => {
  const spec = plan.services.find((candidate) => candidate.name === name);
  if (!spec) throw new Error(`the stack plan has no ${name}`);
  started.add(name);
  services.push(supervise(name, serviceRunner(spec, secrets, fromSources, say), dataDir, say));
  return spec;
};
// The seed's body lists john before mary: mary starts once john has registered, the rest after her.
for (const name of ['account-system', 'balance']) start(name);
await waitUntilReady(start('john-account').port, () => stopping);
await waitUntilReady(start('mary-account').port, () => stopping);
for (const spec of plan.services) if (!started.has(spec.name)) start(spec.name);
for (const spec of plan.services) await waitUntilReady(spec.port, () => stopping);

if (!stopping) {
  say('stack', `microbank is up; watch it live: ${serviceUrl(plan, 'dashboard')}`);
  for (const spec of plan.services) say('stack', `  ${spec.name.padEnd(width)} ${serviceUrl(plan, spec.name)}`);
  say(
    'stack',
    `  ${'redis'.padEnd(width)} redis-cli${plan.redisCluster ? ' -c' : ''} -p ${plan.redisPort} XRANGE ${streamKey('accounts')} - +`,
  );
  say(
    'stack',
    `try: curl ${serviceUrl(plan, 'account-system', '/accounts')}    stop: Ctrl-C    kill one: pnpm kill <component>${plan.redisCluster ? '    fail over: pnpm kill primary | replica | failover [slot or key]' : ''}`,
  );
  say(
    'stack',
    `a credential to move money with (any account): export MICROBANK_CREDENTIAL=$(cat ${credentialFile(dataDir, 'operator')})   (john's, for john-account only: ${credentialFile(dataDir, 'john')})`,
  );
  say(
    'stack',
    `move money: curl -X POST ${serviceUrl(plan, 'transfer-1', '/transfers')} -H "authorization: Bearer $MICROBANK_CREDENTIAL" -H 'content-type: application/json' -H "idempotency-key: $(node -p 'crypto.randomUUID()')" -d '{"from":"john-account","to":"mary-account","amount":10}'`,
  );
}
