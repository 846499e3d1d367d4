/**
 * End to end: the local stack as a user runs it, walking the seed's story: the accounts, a
 * killed account-system, a killed Redis, registrations and garbage typed in with redis-cli.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { REPO_ROOT, SEED_BODY, testSuite, waitFor } from '@microbank/testing';
import * as assert from 'uvu/assert';
import { readPid } from './pid-files.ts';
import { serviceUrl } from './stack-plan.ts';
import { type StackProcess, startStackProcess } from './stack-process.ts';
import { credentialFile } from './stack-secrets.ts';

const run = promisify(execFile);

interface Context {
  dataDir: string;
  stack: StackProcess;
}

const stack = testSuite<Context>('local stack, end to end', {} as Context);

stack.before(async (ctx) => {
  ctx.dataDir = mkdtempSync(join(tmpdir(), 'microbank-stack-'));
  try {
    ctx.stack = await startStackProcess(ctx.dataDir);
    const { plan } = ctx.stack;
    stackUrl = (service, path) => serviceUrl(plan, service, path);
    redisPort = plan.redisPort;
  } catch (error) {
    // uvu does not print a failing hook's error: say it here.
    console.error((error as Error).message);
    throw error;
  }
});

stack.after(async (ctx) => {
  await ctx.stack?.stop();
  rmSync(ctx.dataDir, { recursive: true, force: true });
});

const get = async (url: string, headers: Record<string, string> = {}) => {
  const response = await fetch(url, { headers, signal: AbortSignal.timeout(5_000) });
  return { status: response.status, body: await response.text(), headers: response.headers };
};
let stackUrl: (service: string, path: string) => string = () => {
  throw new Error('the stack is not up');
};
let redisPort = 0;
const accounts = (query = '') => get(stackUrl('account-system', `/accounts${query}`));
const redisCli = async (...args: string[]) =>
  (await run('redis-cli', ['-p', String(redisPort), ...args], { encoding: 'utf8' })).stdout.trim();

async function killAndWaitForRestart(ctx: Context, component: string, readyUrl: string): Promise<void> {
  const before = readPid(ctx.dataDir, component)?.handle;
  const killed = await run(process.execPath, ['--import', 'tsx', 'tools/local-stack/src/kill.ts', component], {
    cwd: REPO_ROOT,
    env: { ...process.env, MICROBANK_DATA_DIR: ctx.dataDir },
    encoding: 'utf8',
  });
  assert.match(killed.stdout, new RegExp(`killed ${component} \\(pid ${before}\\) with SIGKILL`));
  await waitFor(
    `${component} to be started again`,
    async () => ({ pid: readPid(ctx.dataDir, component)?.handle, status: (await get(readyUrl)).status }),
    ({ pid, status }) => pid !== undefined && pid !== before && status === 200,
    { timeoutMs: 30_000 },
  );
}

stack('a fresh stack answers exactly the seed body', async () => {
  const response = await accounts();
  assert.is(response.status, 200);
  assert.is(response.body, SEED_BODY);
});

stack('kill -9 account-system: it is started again and answers the same body', async (ctx) => {
  await killAndWaitForRestart(ctx, 'account-system', stackUrl('account-system', '/readyz'));
  assert.is((await accounts()).body, SEED_BODY);
});

stack('kill -9 Redis: it comes back on the same data, and balance answers', async (ctx) => {
  await killAndWaitForRestart(ctx, 'redis', stackUrl('account-system', '/readyz'));
  await waitFor(
    'Redis to answer PING',
    () => redisCli('PING'),
    (reply) => reply === 'PONG',
  );
  assert.is((await get(stackUrl('balance', '/balance/john-account'))).body, '{"account":"john-account","balance":100}');
  assert.is((await accounts()).body, SEED_BODY);
});

stack('a registration typed in with redis-cli in the documented layout shows up', async () => {
  const data = JSON.stringify({
    account: 'bob-account',
    url: 'http://127.0.0.1:9',
    instance: 'typed-by-hand',
    registeredAt: '2026-11-25T12:00:00Z',
  });
  const id = await redisCli('XADD', 'microbank:accounts', '*', 'type', 'AccountRegistered', 'v', '1', 'data', data);
  const response = await accounts(`?position=${id}`);
  assert.is(response.body, '{"accounts":["john-account","mary-account","bob-account"]}');
  // balance learned the same account from the stream; its service is not there.
  const balance = await waitFor(
    'balance to know bob-account',
    () => get(stackUrl('balance', '/balance/bob-account')),
    (reply) => reply.status !== 404,
  );
  assert.is(balance.status, 503);
  assert.match(balance.body, /account bob-account did not give its balance/);
});

stack('garbage typed in with redis-cli is skipped and counted; the service keeps answering', async () => {
  const id = await redisCli('XADD', 'microbank:accounts', '*', 'hello', 'world');
  const response = await accounts(`?position=${id}`);
  assert.is(response.status, 200);
  assert.is(response.body, '{"accounts":["john-account","mary-account","bob-account"]}');
  const metrics = (await get(stackUrl('account-system', '/metrics'))).body;
  assert.match(metrics, /microbank_projection_skipped_entries_total\{[^}]*\} 1\n/);
});

stack('after the restarts, each entry was read once: no gap, no duplicate', async () => {
  const length = Number(await redisCli('XLEN', 'microbank:accounts'));
  const last = (await redisCli('XREVRANGE', 'microbank:accounts', '+', '-', 'COUNT', '1')).split('\n')[0];
  const response = await accounts();
  assert.is(response.headers.get('x-microbank-position'), last);
  const metrics = (await get(stackUrl('account-system', '/metrics'))).body;
  const count = (name: string) => Number(new RegExp(`${name}\\{[^}]*\\} (\\d+)`).exec(metrics)?.[1]);
  // account-system was restarted before Redis was killed: since then it has read the whole stream.
  assert.is(
    count('microbank_projection_applied_entries_total') + count('microbank_projection_skipped_entries_total'),
    length,
  );
});

stack('money moves: a transfer with curl completes, the balances and the audit show it', async (ctx) => {
  const key = randomUUID();
  // The credential the stack's banner points at: john's, who may debit john-account only.
  const authorization = `Bearer ${readFileSync(credentialFile(ctx.dataDir, 'john'), 'utf8').trim()}`;
  const post = (body = { from: 'john-account', to: 'mary-account', amount: 10 }) =>
    fetch(stackUrl('transfer-1', '/transfers'), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'idempotency-key': key, authorization },
      body: JSON.stringify(body),
    });
  const forbidden = await post({ from: 'mary-account', to: 'john-account', amount: 10 });
  assert.is(forbidden.status, 403, 'john may not debit mary');
  const accepted = await post();
  assert.is(accepted.status, 202);
  const { transfer } = (await accepted.json()) as { transfer: string };
  // The other instance answers for the same transfer, and the same key gives the same transfer.
  const status = await waitFor(
    'the transfer to complete',
    async () => (await get(stackUrl('transfer-2', `/transfers/${transfer}`), { authorization })).body,
    (body) => body.includes('"status":"completed"'),
  );
  assert.is(((await (await post()).json()) as { transfer: string }).transfer, transfer);
  const { debit, credit } = JSON.parse(status) as Record<string, { position: string }>;
  const balance = (account: string, position?: string) =>
    get(stackUrl('balance', `/balance/${account}${position ? `?position=${position}` : ''}`));
  assert.is((await balance('john-account', debit?.position)).body, '{"account":"john-account","balance":90}');
  assert.is((await balance('mary-account', credit?.position)).body, '{"account":"mary-account","balance":110}');
  const audit = await waitFor(
    'the audit to see it',
    async () => JSON.parse((await get(stackUrl('balance', '/audit'))).body) as Record<string, unknown>,
    (figures) => (figures.inFlight as { amount: number }).amount === 0 && figures.balances === 200,
  );
  assert.is(audit.conserved, true);
  // The bank issued 100 to each account (ISSUANCE), recorded on the supply stream.
  assert.equal(audit.supply, { issued: 200, openings: 0, total: 200 });
  assert.equal(audit.violations, { count: 0, first: [] });
});

stack('SIGTERM stops the whole stack and exits 0', async (ctx) => {
  assert.is(await ctx.stack.stop(), 0);
  assert.ok(ctx.stack.process.lines.some((line) => line.includes('stack') && line.includes('stopped')));
  const refused = await fetch(stackUrl('account-system', '/healthz')).then(
    () => false,
    () => true,
  );
  assert.ok(refused, "nothing answers on account-system's port after the stop");
});

stack('a stack SIGKILLed leaves nothing in the way: the next start stops the leftovers and comes up', async (ctx) => {
  const first = await startStackProcess(ctx.dataDir);
  stackUrl = (service, path) => serviceUrl(first.plan, service, path);
  first.process.child.kill('SIGKILL');
  await first.process.exited;
  assert.is((await accounts()).status, 200, 'its services outlived it');
  const second = await startStackProcess(ctx.dataDir);
  stackUrl = (service, path) => serviceUrl(second.plan, service, path);
  try {
    assert.ok(second.process.lines.some((line) => line.includes('is left over from a stack that did not stop')));
    // Same data dir: everything registered earlier in this suite is still there.
    assert.is((await accounts()).body, '{"accounts":["john-account","mary-account","bob-account"]}');
  } finally {
    assert.is(await second.stop(), 0);
  }
});

stack.run();
