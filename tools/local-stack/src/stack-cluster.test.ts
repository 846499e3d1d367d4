/**
 * End to end on a Redis Cluster: `pnpm start --cluster` (node timeout 1 s here) as a user runs it:
 * the accounts, money moving, a killed primary of the transfers stream, and a full stop and start
 * of the stack and every node, after which nothing is lost.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT, SEED_BODY, testSuite, waitFor } from '@microbank/testing';
import * as assert from 'uvu/assert';
import { serviceUrl } from './stack-plan.ts';
import { type StackProcess, startStackProcess } from './stack-process.ts';
import { credentialFile } from './stack-secrets.ts';

const run = promisify(execFile);

interface Context {
  dataDir: string;
  stack: StackProcess;
}

const onCluster = testSuite<Context>('local stack on a Redis Cluster, end to end', {} as Context);

const startOnCluster = (dataDir: string) =>
  startStackProcess(dataDir, {
    args: ['--cluster'],
    env: { MICROBANK_CLUSTER_NODE_TIMEOUT_MS: '1000' },
    timeoutMs: 120_000,
  });

onCluster.before(async (ctx) => {
  ctx.dataDir = mkdtempSync(join(tmpdir(), 'microbank-stack-on-cluster-'));
  try {
    ctx.stack = await startOnCluster(ctx.dataDir);
  } catch (error) {
    // uvu does not print a failing hook's error: say it here.
    console.error((error as Error).message);
    throw error;
  }
});

onCluster.after(async (ctx) => {
  await ctx.stack?.stop();
  rmSync(ctx.dataDir, { recursive: true, force: true });
});

const get = async (url: string, headers: Record<string, string> = {}) => {
  const response = await fetch(url, { headers, signal: AbortSignal.timeout(5_000) });
  return { status: response.status, body: await response.text() };
};
const url = (ctx: Context, service: string, path: string) => serviceUrl(ctx.stack.plan, service, path);

/** john pays mary `amount` through transfer-1 and waits (with a deadline) until it completes; its status. */
async function transfer(ctx: Context, amount: number): Promise<string> {
  const authorization = `Bearer ${readFileSync(credentialFile(ctx.dataDir, 'operator'), 'utf8').trim()}`;
  const key = randomUUID();
  const accepted = await waitFor(
    'transfer-1 to accept a transfer',
    () =>
      fetch(url(ctx, 'transfer-1', '/transfers'), {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': key, authorization },
        body: JSON.stringify({ from: 'john-account', to: 'mary-account', amount }),
        signal: AbortSignal.timeout(5_000),
      }),
    (response) => response.status === 202 || response.status === 201,
    { timeoutMs: 30_000, intervalMs: 200 },
  );
  const { transfer: id } = (await accepted.json()) as { transfer: string };
  return waitFor(
    `transfer ${id} to complete`,
    async () => (await get(url(ctx, 'transfer-2', `/transfers/${id}`), { authorization })).body,
    (body) => body.includes('"status":"completed"'),
    { timeoutMs: 30_000, intervalMs: 100 },
  );
}

const audit = (ctx: Context) =>
  waitFor(
    'the audit to see every transfer settled',
    async () => JSON.parse((await get(url(ctx, 'balance', '/audit'))).body) as Record<string, unknown>,
    (figures) => (figures.inFlight as { amount: number } | undefined)?.amount === 0 && figures.balances === 200,
    { timeoutMs: 30_000, intervalMs: 200 },
  );

onCluster('the seed body, and money moves', async (ctx) => {
  assert.is((await get(url(ctx, 'account-system', '/accounts'))).body, SEED_BODY);
  await transfer(ctx, 10);
  const figures = await audit(ctx);
  assert.is(figures.conserved, true);
});

onCluster('pnpm kill primary (the transfers stream`s): after the failover money moves again', async (ctx) => {
  const killed = await run(process.execPath, ['--import', 'tsx', 'tools/local-stack/src/kill.ts', 'primary'], {
    cwd: REPO_ROOT,
    env: { ...process.env, MICROBANK_DATA_DIR: ctx.dataDir },
    encoding: 'utf8',
  });
  assert.match(killed.stdout, /^killed redis-\d .* the primary of slots .*\(microbank:\{transfers\}\)/);
  await transfer(ctx, 5);
  assert.is((await audit(ctx)).conserved, true);
});

onCluster('a full stop and start of the stack and every node loses nothing', async (ctx) => {
  // What the transfers above left: the books apply a transfer once its replicas hold it, so they
  // may be a moment behind the transfer's settlement.
  const before = '{"account":"mary-account","balance":115}';
  await waitFor(
    'mary`s balance before the stop',
    async () => (await get(url(ctx, 'balance', '/balance/mary-account'))).body,
    (body) => body === before,
    { timeoutMs: 30_000, intervalMs: 200 },
  );
  assert.is(await ctx.stack.stop(), 0);
  ctx.stack = await startOnCluster(ctx.dataDir);
  assert.ok(
    ctx.stack.process.lines.some((line) => line.includes('Redis Cluster rejoined from its nodes.conf')),
    'the same cluster, not a new one',
  );
  assert.is((await get(url(ctx, 'account-system', '/accounts'))).body, SEED_BODY);
  await waitFor(
    'mary`s balance to be what it was',
    async () => (await get(url(ctx, 'balance', '/balance/mary-account'))).body,
    (body) => body === before,
    { timeoutMs: 30_000, intervalMs: 200 },
  );
});

onCluster.run();
