/** The real renders of k8s/ (the base and each overlay) pass every check; the command line's output and exit codes. */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { REPO_ROOT, testSuite } from '@microbank/testing';
import * as assert from 'uvu/assert';
import { checkManifests, type K8sObject, nameOf, renderKustomization } from './index.ts';

/** The manifests (kustomize), at the repository's root; this package only checks them. */
const k8sDir = join(REPO_ROOT, 'k8s');
/** The kustomizations of k8s/: the root (what `kubectl apply -k k8s` deploys) and the layers under it. */
const at = (path: string) => join(k8sDir, path);
const KUSTOMIZATIONS = {
  root: k8sDir,
  base: at('base'),
  dev: at('overlays/dev'),
  production: at('overlays/production'),
};
/** The Secrets the base references and only the dev overlay generates: production requires them to exist. */
const EXTERNAL_SECRETS = ['microbank-redis', 'microbank-snapshot-key', 'microbank-transfer-clients'] as const;

const cache = new Map<string, K8sObject[]>();
/** The render of one kustomization of k8s/ (default: the root), once per run; each caller gets a deep copy. */
function render(layer: keyof typeof KUSTOMIZATIONS = 'root'): K8sObject[] {
  const dir = KUSTOMIZATIONS[layer];
  if (!cache.has(dir)) cache.set(dir, renderKustomization(dir));
  return structuredClone(cache.get(dir) as K8sObject[]);
}

const rendered = testSuite('k8s: the renders of k8s/');

rendered('the base and every overlay pass every check (Secrets outside the render declared external)', () => {
  assert.equal(checkManifests(render('root')), [], 'k8s');
  assert.equal(checkManifests(render('dev')), [], 'dev');
  for (const layer of ['base', 'production'] as const) {
    // Production's policies on its render: Redis, the public image, is pinned by tag (7.2.11-alpine) there.
    const production = layer === 'production' ? { tagPinned: ['redis'] } : undefined;
    assert.equal(checkManifests(render(layer), { externalSecrets: EXTERNAL_SECRETS, production }), [], layer);
    // Without them declared, exactly the Secret references fail: the render must not create the Secrets.
    for (const problem of checkManifests(render(layer)))
      assert.match(problem, /: env [A-Z_]+: Secret "microbank-[a-z-]+" is not in the render$/);
  }
});

rendered('kubectl kustomize k8s renders exactly the dev overlay', () => assert.equal(render('root'), render('dev')));

rendered('the base and production create no Secret and no chaos monkey or RBAC; dev suspends the monkey', () => {
  const chaos = /^(Secret|CronJob|Job|Role|RoleBinding|ClusterRole|ClusterRoleBinding|ServiceAccount)\//;
  for (const layer of ['base', 'production'] as const) {
    assert.equal(render(layer).map(nameOf).filter(chaos.test, chaos), [], layer);
  }
  const cron = render('dev').find((o) => o.kind === 'CronJob') as { spec: { suspend?: boolean } } | undefined;
  assert.is(cron?.spec.suspend, true);
});

rendered('no file outside k8s/overlays/dev holds a development secret, generates or defines a Secret', () => {
  const dev = KUSTOMIZATIONS.dev;
  const secret = (f: string) => readFileSync(join(dev, `dev-${f}.txt`), 'utf8').trim();
  const literals = ['redis-password', 'snapshot-key'].map(secret);
  const files = readdirSync(k8sDir, { recursive: true, withFileTypes: true }).filter((f) => f.isFile());
  for (const file of files.map((f) => join(f.parentPath, f.name)).filter((f) => !f.startsWith(`${dev}/`))) {
    const text = readFileSync(file, 'utf8');
    for (const literal of literals) assert.not.ok(text.includes(literal), `${file} holds a development secret`);
    if (file.endsWith('.yaml')) assert.not.match(text, /^secretGenerator:|^kind: Secret$/m, file);
  }
});
rendered.run();

const cli = testSuite('k8s: the command line (pnpm k8s:check)');

/** Runs `pnpm k8s:check` (main.ts, as the root package.json runs it) from the repository root. */
function k8sCheck(...args: string[]) {
  const main = fileURLToPath(new URL('main.ts', import.meta.url));
  return spawnSync(process.execPath, ['--import', 'tsx', main, ...args], { cwd: REPO_ROOT, encoding: 'utf8' });
}
/** A test on a copy of k8s/ in a temporary directory, which it removes afterwards. */
const withCopyOfK8s = (test: (copy: string) => void) => () => {
  const copy = mkdtempSync(join(tmpdir(), 'microbank-k8s-'));
  try {
    cpSync(k8sDir, copy, { recursive: true });
    test(copy);
  } finally {
    rmSync(copy, { recursive: true, force: true });
  }
};

cli('k8s/ passes: exit 0, by default and when named', () => {
  for (const args of [[], ['k8s']]) {
    const result = k8sCheck(...args);
    assert.is(result.status, 0, result.stdout + result.stderr);
    assert.is(result.stdout, `k8s:check: ${render().length} objects checked in 1 directory, 0 problems found\n`);
  }
});

cli('production passes with its Secrets declared external (as the usage shows), fails without', () => {
  const dir = relative(REPO_ROOT, KUSTOMIZATIONS.production);
  const external = EXTERNAL_SECRETS.flatMap((name) => ['--external-secret', name]);
  assert.is(k8sCheck(dir, ...external).status, 0);
  assert.ok(k8sCheck('--help').stdout.includes(`pnpm k8s:check ${dir} ${external.slice(0, 2).join(' ')}`));
  const { status, stdout } = k8sCheck(dir);
  assert.is(status, 1);
  assert.match(stdout, /^k8s\/overlays\/production: Deployment\/microbank-balance: .*"microbank-redis" is not/m);
});

cli(
  'a copy broken on disk fails: exit 1, each problem prefixed by its directory; one that fails to render too',
  withCopyOfK8s((copy) => {
    const file = join(copy, 'base', 'service-base', 'deployment.yaml');
    writeFileSync(file, readFileSync(file, 'utf8').replace(/^ {2}replicas: 1$/m, '  replicas: "two"'));
    const result = k8sCheck('k8s', copy);
    assert.is(result.status, 1, result.stderr);
    const lines = result.stdout.trimEnd().split('\n');
    assert.ok(lines.includes(`${copy}: Deployment/microbank-balance: schema: spec.replicas must be integer`));
    const prefixed = lines.slice(0, -1).every((line) => line.startsWith(`${copy}: `));
    assert.ok(prefixed, result.stdout);
    const total = `${2 * render().length} objects checked in 2 directories, ${lines.length - 1} problems found`;
    assert.is(lines.at(-1), `k8s:check: ${total}`);
    rmSync(join(copy, 'base', 'redis', 'service.yaml'));
    assert.throws(() => renderKustomization(copy), /kubectl kustomize .* failed: .*service\.yaml/);
    const unrendered = k8sCheck(copy);
    assert.is(unrendered.status, 1);
    assert.match(unrendered.stdout, /: kubectl kustomize .*\nk8s:check: 0 objects checked in 1 directory, 1 problem/);
  }),
);

cli('bad usage exits 2 with the usage, before rendering anything', () => {
  for (const args of [['--strict'], ['k8s', 'nowhere'], ['k8s', '--external-secret'], ['--external-secret', 'k8s/x']]) {
    const result = k8sCheck(...args);
    assert.is(result.status, 2, args.join(' '));
    assert.match(result.stderr, /^usage: pnpm k8s:check \[--external-secret NAME \.\.\.\] \[dir \.\.\.\]/m);
    assert.is(result.stdout, '');
  }
});
cli.run();
