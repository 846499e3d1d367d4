/**
 * `pnpm start`: the local stack. Redis (AOF in .data/redis) and the four services, each kept
 * running; john-account registers before mary-account; the URLs are printed once all are ready;
 * Ctrl-C or SIGTERM stops everything, Redis last.
 */
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { redisUnavailable } from '@microbank/redis-runner';
import { recordStack, runningStack, stopLeftovers } from './leftovers.ts';
import { removePids } from './pid-files.ts';
import { freePortOrExplain, waitUntilReady } from './readiness.ts';
import { redisRunner } from './redis-runner.ts';
import { dataDir, REDIS_PORT, services, serviceUrl } from './stack-plan.ts';
import { type Say, type Supervised, serviceRunner, supervise } from './supervisor.ts';

const data = dataDir();
const plan = services();
const width = Math.max(...plan.map((spec) => spec.name.length), 'stack'.length);
const say: Say = (component, line) => process.stdout.write(`${component.padEnd(width)} | ${line}\n`);
// Whatever read our output may be gone (a pipe closed by the same Ctrl-C): stopping goes on regardless.
process.stdout.on('error', () => {});

const missing = await redisUnavailable();
if (missing) {
  say('stack', missing);
  process.exit(1);
}
const other = runningStack(data);
if (other !== undefined) {
  say('stack', `a stack is already running on ${data} (pid ${other}): stop it first (Ctrl-C in its terminal)`);
  process.exit(1);
}
await stopLeftovers(data, (line) => say('stack', line));
recordStack(data);
try {
  for (const port of [REDIS_PORT, ...plan.map((spec) => spec.port)]) await freePortOrExplain(port);
} catch (error) {
  say('stack', error instanceof Error ? error.message : String(error));
  process.exit(1);
}

const running: Supervised[] = [];
let stopping = false;
const stop = async (signal: string) => {
  if (stopping) return;
  stopping = true;
  say('stack', `${signal}: stopping the services, then Redis`);
  const [redis, ...rest] = running;
  try {
    await Promise.all(rest.map((component) => component.stop()));
  } finally {
    await redis?.stop();
  }
  removePids(data);
  say('stack', 'stopped');
  process.exit(0);
};
process.on('SIGINT', () => void stop('SIGINT'));
process.on('SIGTERM', () => void stop('SIGTERM'));

say('stack', `data in ${data}`);
running.push(supervise('redis', redisRunner(REDIS_PORT, join(data, 'redis'), say), data, say));

const [accountSystem, balance, john, mary] = plan;
if (!accountSystem || !balance || !john || !mary) throw new Error('the stack plan lost a service');
for (const spec of [accountSystem, balance, john])
  running.push(supervise(spec.name, serviceRunner(spec, say), data, say));
// The seed's body lists john before mary: mary starts once john has registered.
await waitUntilReady(john, () => stopping);
running.push(supervise(mary.name, serviceRunner(mary, say), data, say));
for (const spec of plan) await waitUntilReady(spec, () => stopping);

if (!stopping) {
  await sleep(0);
  say('stack', 'microbank is up:');
  for (const spec of plan) say('stack', `  ${spec.name.padEnd(width)} http://127.0.0.1:${spec.port}`);
  say('stack', `  ${'redis'.padEnd(width)} redis-cli -p ${REDIS_PORT} XRANGE microbank:accounts - +`);
  say(
    'stack',
    `try: curl ${serviceUrl('account-system', '/accounts')}    stop: Ctrl-C    kill one: pnpm kill <component>`,
  );
}
