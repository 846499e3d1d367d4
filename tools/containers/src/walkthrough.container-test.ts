/**
 * The seed's walkthrough against the real image and the manifests' own pods: the image built with
 * the repository's Dockerfile, every Deployment and StatefulSet of `kubectl kustomize k8s` run as
 * containers with its command, env and security settings (pod-runs.ts), then the accounts, a
 * SIGKILLed account-system, a SIGKILLed Redis, a transfer and a SIGTERM to every service.
 * Needs a Docker engine (tools/containers/engine.sh) and, offline, offline-base-images.sh's images.
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type K8sObject, renderKustomization } from '@microbank/k8s-tools';
import { REPO_ROOT, SEED_BODY, testSuite, waitFor } from '@microbank/testing';
import * as assert from 'uvu/assert';
import {
  type ContainerBank,
  containerOf,
  createContainerBank,
  killPod,
  podNamed,
  removeContainerBank,
  runPod,
  serviceAddress,
  stopPod,
  untilReady,
} from './bank-in-containers.ts';
import { docker } from './docker.ts';
import { buildBankImage, redisImage } from './images.ts';

const K8S_DIR = join(REPO_ROOT, process.env.MICROBANK_K8S_DIR ?? 'k8s');

interface Context {
  bank: ContainerBank;
}

const walkthrough = testSuite<Context>('the seed walkthrough in containers, from the manifests', {} as Context);

walkthrough.before(async (ctx) => {
  try {
    const objects = renderKustomization(K8S_DIR);
    const bankImage = workloadImage(objects, 'microbank-account-system');
    const redis = await redisImage(workloadImage(objects, 'microbank-redis'));
    console.log(`walkthrough: ${redis.note}`);
    const started = Date.now();
    await buildBankImage(bankImage);
    console.log(
      `walkthrough: built ${bankImage} with the Dockerfile in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    ctx.bank = await createContainerBank(objects, {
      imageFor: (pod) => (pod.workload === 'microbank-redis' ? redis.image : pod.image),
      forwarderImage: bankImage,
    });
    // Every pod at once, as a cluster starts them, but for one: the registry lists accounts in the
    // order they first registered and the seed's body has john before mary, so (as `pnpm start`
    // does) mary's pod starts once john's is ready. On a cluster the two race.
    const mary = podNamed(ctx.bank, 'microbank-mary-account-0');
    await Promise.all(ctx.bank.pods.filter((pod) => pod !== mary).map((pod) => runPod(ctx.bank, pod)));
    await untilReady(ctx.bank, [podNamed(ctx.bank, 'microbank-john-account-0')]);
    await runPod(ctx.bank, mary);
  } catch (error) {
    // uvu does not print a failing hook's error: say it here.
    console.error((error as Error).message);
    throw error;
  }
});

walkthrough.after(async (ctx) => {
  if (ctx.bank) await removeContainerBank(ctx.bank);
});

/** The image of a workload's (first) container, as the manifests name it. */
function workloadImage(objects: readonly K8sObject[], workload: string): string {
  const found = objects.find((o) => o.metadata.name === workload && ['Deployment', 'StatefulSet'].includes(o.kind));
  const spec = found?.spec as { template: { spec: { containers: Array<{ image: string }> } } } | undefined;
  const image = spec?.template.spec.containers[0]?.image;
  if (!image) throw new Error(`no workload ${workload} with an image in the manifests`);
  return image;
}

async function get(ctx: Context, service: string, path: string, port = 80, headers: Record<string, string> = {}) {
  const url = `http://${await serviceAddress(ctx.bank, service, port)}${path}`;
  const response = await fetch(url, { headers, signal: AbortSignal.timeout(5_000) });
  return { status: response.status, body: await response.text() };
}

const accounts = (ctx: Context) => get(ctx, 'microbank-account-system', '/accounts');

walkthrough('every pod turns ready, and every HTTP Service leads to a ready pod', async (ctx) => {
  await untilReady(ctx.bank, ctx.bank.pods);
  for (const service of ctx.bank.services) {
    const { readiness } = podNamed(ctx.bank, service.pods[0] as string);
    if (!('httpGet' in readiness)) continue;
    const port = service.ports.find((p) => p.targetPort === readiness.httpGet.port)?.port;
    if (port === undefined) continue;
    await waitFor(
      `${service.name}:${port} to answer ${readiness.httpGet.path}`,
      async () => (await get(ctx, service.name, readiness.httpGet.path, port)).status,
      (status) => status === 200,
    );
  }
});

walkthrough('GET /accounts answers exactly the seed body', async (ctx) => {
  const response = await accounts(ctx);
  assert.is(response.status, 200);
  assert.is(response.body, SEED_BODY);
});

walkthrough('account-system SIGKILLed: a new pod of the same spec answers the same body', async (ctx) => {
  const pod = podNamed(ctx.bank, 'microbank-account-system-0');
  assert.is(await killPod(ctx.bank, pod), 137, 'killed by SIGKILL');
  await runPod(ctx.bank, pod);
  await untilReady(ctx.bank, [pod], 60_000);
  assert.is((await accounts(ctx)).body, SEED_BODY);
});

walkthrough('Redis SIGKILLed: a new pod on the same volume, and the same body', async (ctx) => {
  const redis = podNamed(ctx.bank, 'microbank-redis-0');
  // redis-cli in the pod, as `pnpm k8s:streams` does; REDISCLI_AUTH is in the pod's environment.
  const firstRegistration = () =>
    docker([
      'exec',
      containerOf(ctx.bank, redis.name),
      'redis-cli',
      'XRANGE',
      'microbank:accounts',
      '-',
      '+',
      'COUNT',
      '1',
    ]);
  const before = await firstRegistration();
  assert.match(before, /AccountRegistered/);
  assert.is(await killPod(ctx.bank, redis), 137, 'killed by SIGKILL');
  await runPod(ctx.bank, redis);
  // Every pod ready again: Redis answers, and each projection tailed its streams from where it was
  // (a stream that went backwards would make it report divergence, not ready).
  await untilReady(ctx.bank, ctx.bank.pods, 60_000);
  assert.is(await firstRegistration(), before, 'the stream came back from the volume');
  assert.is((await accounts(ctx)).body, SEED_BODY);
});

walkthrough('a transfer from john to mary through the transfer Service settles, and the balances move', async (ctx) => {
  const address = await serviceAddress(ctx.bank, 'microbank-transfer');
  const key = randomUUID();
  // The dev overlay's operator, as k8s/README.md has a developer use it.
  const credential = readFileSync(join(K8S_DIR, 'overlays/dev/dev-operator-credential.txt'), 'utf8').trim();
  const authorization = `Bearer ${credential}`;
  let tries = 0;
  // As a client should: a 503 (Redis away, Retry-After: 1) is sent again with the same key.
  const accepted = await waitFor(
    'the transfer API to take the transfer',
    async () => {
      tries++;
      const response = await fetch(`http://${address}/transfers`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': key, authorization },
        body: JSON.stringify({ from: 'john-account', to: 'mary-account', amount: 10 }),
        signal: AbortSignal.timeout(5_000),
      });
      return { status: response.status, body: await response.text() };
    },
    (answer) => answer.status !== 503,
    { timeoutMs: 30_000, intervalMs: 1_000 },
  );
  if (tries > 1) console.log(`walkthrough: the transfer API answered 503 ${tries - 1} time(s) before taking it`);
  assert.is(accepted.status, 202, accepted.body);
  const { transfer } = JSON.parse(accepted.body) as { transfer: string };
  const settled = await waitFor(
    'the transfer to complete',
    async () =>
      JSON.parse((await get(ctx, 'microbank-transfer', `/transfers/${transfer}`, 80, { authorization })).body),
    (status: { status?: string }) => status.status === 'completed',
    { timeoutMs: 30_000 },
  );
  const { debit, credit } = settled as Record<string, { position: string }>;
  // Through balance, which asks each account at the URL it registered: its Service's name.
  const balance = (account: string, position = '') =>
    get(ctx, 'microbank-balance', `/balance/${account}?position=${position}`);
  assert.is((await balance('john-account', debit?.position)).body, '{"account":"john-account","balance":90}');
  assert.is((await balance('mary-account', credit?.position)).body, '{"account":"mary-account","balance":110}');
});

walkthrough('SIGTERM (docker stop) ends every pod with exit code 0, within its grace period', async (ctx) => {
  const results = await Promise.all(ctx.bank.pods.map(async (pod) => ({ pod, ...(await stopPod(ctx.bank, pod)) })));
  for (const { pod, exitCode, seconds } of results) {
    // A service keeps answering for SHUTDOWN_DELAY_MS, then drains for at most SHUTDOWN_DRAIN_MS.
    const shutdownMs = Number(pod.env.SHUTDOWN_DELAY_MS ?? 0) + Number(pod.env.SHUTDOWN_DRAIN_MS ?? 0);
    console.log(`walkthrough: ${pod.name} stopped in ${seconds.toFixed(1)} s, exit code ${exitCode}`);
    assert.is(exitCode, 0, `${pod.name} exits 0 on SIGTERM`);
    assert.ok(seconds < Math.min(pod.terminationGraceSeconds, shutdownMs / 1000 + 10), `${pod.name} stops promptly`);
  }
});

walkthrough.run();
