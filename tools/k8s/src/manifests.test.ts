/** The real renders of k8s/ (the base and each overlay) pass every check; the command line's output and exit codes. */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { REPO_ROOT, testSuite } from '@microbank/testing';
import * as assert from 'uvu/assert';
import { parse } from 'yaml';
import { asObject, containers, guards, hasPort, labelsMatch, list, podTemplates, selectorMatches } from './checks.ts';
import {
  checkManifests,
  checkSchema,
  checkUnknownFields,
  type K8sObject,
  nameOf,
  parseObjects,
  renderKustomization,
} from './index.ts';
import { checkUpgrade, immutableFields } from './upgrades.ts';

/** The manifests (kustomize), at the repository's root; this package only checks them. */
const k8sDir = join(REPO_ROOT, 'k8s');
/** The kustomizations of k8s/: the root (what `kubectl apply -k k8s` deploys) and the layers under it. */
const KUSTOMIZATIONS = {
  root: '',
  namespace: 'namespace',
  base: 'base',
  dev: 'overlays/dev',
  production: 'overlays/production',
  cluster: 'overlays/cluster',
};
/** The Secrets the base references and only the dev overlay generates: production requires them to exist. */
const EXTERNAL_SECRETS = ['microbank-redis', 'microbank-snapshot-key', 'microbank-transfer-clients'] as const;

const cache = new Map<string, K8sObject[]>();
/** The render of one kustomization of k8s/ (default: the root), once per run; each caller gets a deep copy. */
function render(layer: keyof typeof KUSTOMIZATIONS = 'root'): K8sObject[] {
  const dir = join(k8sDir, KUSTOMIZATIONS[layer]);
  if (!cache.has(dir)) cache.set(dir, renderKustomization(dir));
  return structuredClone(cache.get(dir) as K8sObject[]);
}

const rendered = testSuite('k8s: the renders of k8s/');

/** The namespace, applied apart and once (k8s/namespace), where every other layer's objects sit. */
const namespaces = () => render('namespace').map((o) => o.metadata.name);

rendered(
  'the namespace, the base and every overlay pass every check (Secrets outside the render declared external)',
  () => {
    assert.equal(checkManifests(render('namespace')), []);
    assert.equal(namespaces(), ['microbank']);
    for (const layer of ['root', 'dev'] as const)
      assert.equal(checkManifests(render(layer), { namespaces: namespaces() }), [], layer);
    for (const layer of ['base', 'production', 'cluster'] as const) {
      // Production's policies on its render: Redis, the public image, is pinned by tag (7.2.11-alpine) there.
      const production = layer === 'production' ? { tagPinned: ['redis'] } : undefined;
      const options = { externalSecrets: EXTERNAL_SECRETS, production, namespaces: namespaces() };
      // The base has no Redis (each overlay adds one): exactly the services' REDIS_URL finds no Service there.
      const problems = checkManifests(render(layer), options);
      const noRedis = (p: string) => layer === 'base' && /REDIS_URL: host "microbank-redis" is not a Service/.test(p);
      assert.equal(
        problems.filter((p) => !noRedis(p)),
        [],
        layer,
      );
      // Without them declared, exactly the Secret references fail, to each of them: the render creates none.
      const unsecret = checkManifests(render(layer), { namespaces: namespaces() });
      const m = unsecret.map((p) => /: env \w+: Secret "(.+)" is not in the render$/.exec(p)?.[1]);
      assert.equal([...new Set(m.filter(Boolean))].sort(), [...EXTERNAL_SECRETS], layer);
    }
    const base = checkManifests(render('base'), { externalSecrets: EXTERNAL_SECRETS, namespaces: namespaces() });
    assert.is(base.length, 6, base.join('\n'));
  },
);

rendered('kubectl kustomize k8s renders exactly the dev overlay', () => assert.equal(render('root'), render('dev')));

rendered(
  'only k8s/namespace renders the Namespace: deleting the bank (delete -k, apply --prune) keeps its claims',
  () => {
    for (const layer of ['root', 'base', 'dev', 'production'] as const)
      assert.equal(
        render(layer).filter((o) => o.kind === 'Namespace' || o.kind === 'PersistentVolumeClaim'),
        [],
        layer,
      );
    const redis = get(render('dev'), 'StatefulSet/microbank-redis');
    assert.equal(redis.spec.persistentVolumeClaimRetentionPolicy, { whenDeleted: 'Retain', whenScaled: 'Retain' });
  },
);

rendered('the base and production create no Secret and no chaos monkey or RBAC', () => {
  const chaos = /^(Secret|CronJob|Job|Role|RoleBinding|ClusterRole|ClusterRoleBinding|ServiceAccount)\//;
  for (const layer of ['base', 'production'] as const)
    assert.equal(render(layer).map(nameOf).filter(chaos.test, chaos), [], layer);
});

rendered('no file outside k8s/overlays/dev holds a development secret, generates or defines a Secret', () => {
  const dev = join(k8sDir, KUSTOMIZATIONS.dev);
  const secret = (f: string) => readFileSync(join(dev, `dev-${f}.txt`), 'utf8').trim();
  const literals = ['redis-password', 'snapshot-key'].map(secret);
  const files = readdirSync(k8sDir, { recursive: true, withFileTypes: true }).filter((f) => f.isFile());
  for (const file of files.map((f) => join(f.parentPath, f.name)).filter((f) => !f.startsWith(`${dev}/`))) {
    const text = readFileSync(file, 'utf8');
    for (const literal of literals) assert.not.ok(text.includes(literal), `${file} holds a development secret`);
    if (file.endsWith('.yaml')) assert.not.match(text, /^secretGenerator:|^kind: Secret$/m, file);
  }
});
// biome-ignore lint/suspicious/noExplicitAny: rendered objects are read freely by path
type Json = Record<string, any>;
/** The object `Kind/name` of a render; the first container of a workload's pods; its env variable's value. */
const get = (objects: K8sObject[], name: string) => objects.find((o) => nameOf(o) === name) as Json;
const env = (o: Json, name: string) =>
  list(o.spec?.template?.spec.containers[0].env).find((e) => e.name === name)?.value as string;

/** The release an overlay of k8s/ was last recorded at (k8s/released/<overlay>.yaml). */
const releaseOf = (overlay: string) => parse(readFileSync(join(k8sDir, 'released', `${overlay}.yaml`), 'utf8'));

rendered(
  'upgrades: dev over its release (the first shipped), production over dev; both found again when broken',
  () => {
    assert.equal(checkUpgrade(releaseOf('dev'), render('dev'), 'dev'), []);
    assert.equal(checkUpgrade(immutableFields(render('dev')), render('production'), 'dev'), []);
    // What the review found: the governing Service renamed after the first release, a bigger claim in production.
    const renamed = render('dev');
    get(renamed, 'StatefulSet/microbank-redis').spec.serviceName = 'microbank-redis-headless';
    assert.match(
      checkUpgrade(releaseOf('dev'), renamed, 'dev').join('\n'),
      /StatefulSet\/microbank-redis: .* serviceName/,
    );
    const bigger = render('production');
    get(bigger, 'StatefulSet/microbank-redis').spec.volumeClaimTemplates[0].spec.resources.requests.storage = '10Gi';
    const refused = checkUpgrade(immutableFields(render('dev')), bigger, 'dev');
    assert.match(refused.join('\n'), /StatefulSet\/microbank-redis: upgrading from dev changes volumeClaimTemplates/);
  },
);

rendered('replicas: an account is one pod; account-system and balance two in production, transfer two in both', () => {
  for (const [layer, two] of Object.entries({ dev: 'transfer', production: 'account-system balance transfer' })) {
    for (const o of render(layer as 'dev').filter((o) => o.kind === 'Deployment') as Json[])
      assert.is(
        o.spec.replicas,
        two.split(' ').includes(o.metadata.name.slice(10)) ? 2 : 1,
        `${layer}: ${o.metadata.name}`,
      );
  }
});

/**
 * Whom a workload's NetworkPolicies let in (ingress) or out to (egress), a rule's port at a time: `Kind/name port` of
 * a pod (out: one with that port), `any namespace`, an ipBlock's CIDR, `anyone` (a rule naming no peer).
 */
function peersOf(objects: K8sObject[], name: string, direction: 'ingress' | 'egress'): string[] {
  const pods = podTemplates(objects);
  const labels = pods.find((t) => nameOf(t.owner) === name)?.labels ?? {};
  const specs = objects.filter((o) => o.kind === 'NetworkPolicy').map((p) => asObject(p.spec));
  const guarding = specs.filter((s) => selectorMatches(asObject(s.podSelector), labels) && guards(s, direction));
  const peers = new Set(guarding.length === 0 ? ['anything, unguarded'] : []);
  for (const rule of guarding.flatMap((s) => list(s[direction])))
    for (const { port, protocol } of list(rule.ports)) {
      const at = `${port}/${protocol}`;
      const ruled = list(direction === 'ingress' ? rule.from : rule.to);
      if (ruled.length === 0) peers.add(`anyone ${at}`);
      for (const peer of ruled) {
        if (peer.namespaceSelector) peers.add(`any namespace ${at}`);
        if (peer.ipBlock) peers.add(`${asObject(peer.ipBlock).cidr} ${at}`);
        if (!peer.podSelector || peer.namespaceSelector) continue;
        const to = pods.filter((t) => selectorMatches(asObject(peer.podSelector), t.labels));
        for (const t of to)
          if (direction === 'ingress' || containers(t.spec).some((c) => hasPort(c, port)))
            peers.add(`${nameOf(t.owner)} ${at}`);
      }
    }
  return [...peers].sort();
}

rendered('network: a default deny, and exactly the peers each component needs, in and out', () => {
  const dns = ['169.254.20.10/32 53/TCP', '169.254.20.10/32 53/UDP', 'any namespace 53/TCP', 'any namespace 53/UDP'];
  const deployment = (name: string) => `Deployment/microbank-${name}`;
  const redis = ['StatefulSet/microbank-redis 6379/TCP'];
  const accounts = ['john-account', 'mary-account'].map((a) => `${deployment(a)} 8080/TCP`);
  const services = ['account-system', 'balance', 'dashboard', 'john-account', 'mary-account', 'transfer'];
  const anyone = ['anyone http/TCP'];
  const account = {
    ingress: ['balance', 'dashboard'].map((s) => `${deployment(s)} http/TCP`),
    egress: [...dns, ...redis],
  };
  const expected: Record<string, { ingress: string[]; egress: string[] }> = {
    'account-system': { ingress: anyone, egress: [...dns, ...redis] },
    balance: { ingress: anyone, egress: [...dns, ...accounts, ...redis] },
    transfer: { ingress: anyone, egress: [...dns, ...redis] },
    dashboard: {
      ingress: anyone,
      egress: [
        ...dns,
        ...redis,
        ...accounts,
        ...['account-system', 'balance', 'transfer'].map((s) => `${deployment(s)} 8080/TCP`),
      ],
    },
    'john-account': account,
    'mary-account': account,
  };
  for (const [layer, objects] of Object.entries({ dev: render('dev'), production: render('production') })) {
    for (const [name, { ingress, egress }] of Object.entries(expected)) {
      assert.equal(peersOf(objects, deployment(name), 'ingress'), ingress.sort(), `${layer}: ${name} ingress`);
      assert.equal(peersOf(objects, deployment(name), 'egress'), egress.sort(), `${layer}: ${name} egress`);
    }
    const redisIn = services.map((s) => `${deployment(s)} 6379/TCP`);
    assert.equal(peersOf(objects, 'StatefulSet/microbank-redis', 'ingress'), redisIn.sort(), `${layer}: redis`);
    assert.equal(peersOf(objects, 'StatefulSet/microbank-redis', 'egress'), [], `${layer}: redis`);
  }
  // The chaos monkey (dev): nobody in; DNS and the Kubernetes API out.
  const api = ['anyone 443/TCP', 'anyone 6443/TCP'];
  assert.equal(peersOf(render('dev'), 'CronJob/microbank-chaos-monkey', 'ingress'), []);
  assert.equal(peersOf(render('dev'), 'CronJob/microbank-chaos-monkey', 'egress'), [...dns, ...api].sort());
});

rendered('the cluster overlay: six Redis nodes kept on claims, formed by a Job, the services its clients', () => {
  const objects = render('cluster');
  assert.equal(objects.filter((o) => o.metadata.name === 'microbank-redis').map(nameOf), []);
  const { spec } = get(objects, 'StatefulSet/microbank-redis-cluster');
  assert.equal([spec.replicas, spec.podManagementPolicy, spec.serviceName], [6, 'Parallel', 'microbank-redis-cluster']);
  assert.equal(spec.persistentVolumeClaimRetentionPolicy, { whenDeleted: 'Retain', whenScaled: 'Retain' });
  const single = get(render('dev'), 'StatefulSet/microbank-redis').spec.volumeClaimTemplates;
  assert.equal(
    spec.volumeClaimTemplates.map((c: Json) => [c.metadata.name, c.spec]),
    single.map((c: Json) => [c.metadata.name, c.spec]),
  );
  const [spread] = spec.template.spec.affinity.podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution;
  assert.is(spread.podAffinityTerm.topologyKey, 'kubernetes.io/hostname');
  assert.is(get(objects, 'Service/microbank-redis-cluster').spec.clusterIP, 'None');
  const budget = get(objects, 'PodDisruptionBudget/microbank-redis-cluster').spec;
  assert.is(budget.maxUnavailable, 1);
  assert.ok(selectorMatches(budget.selector, spec.template.metadata.labels));
  const pods = [...Array(6).keys()].map((n) => `microbank-redis-cluster-${n}.microbank-redis-cluster:6379`);
  const job = get(objects, 'Job/microbank-redis-cluster-bootstrap');
  assert.is(env(job, 'NODES'), pods.join(' '));
  for (const o of objects.filter((o) => o.kind === 'Deployment')) {
    const seeds = pods.map((pod) => `redis://:$(REDIS_PASSWORD)@${pod}`).join(',');
    assert.equal(
      ['REDIS_URL', 'REDIS_CLUSTER', 'REDIS_CONFIRM_REPLICAS'].map((name) => env(o, name)),
      [seeds, 'true', '1'],
    );
  }
  // The network: the services, the Job and the nodes themselves in; the nodes and DNS out.
  const dns = ['169.254.20.10/32 53/TCP', '169.254.20.10/32 53/UDP', 'any namespace 53/TCP', 'any namespace 53/UDP'];
  const node = 'StatefulSet/microbank-redis-cluster';
  const services = ['account-system', 'balance', 'dashboard', 'john-account', 'mary-account', 'transfer'];
  const clients = [...services.map((s) => `Deployment/microbank-${s}`), 'Job/microbank-redis-cluster-bootstrap', node];
  assert.equal(peersOf(objects, node, 'ingress'), [...clients.map((c) => `${c} 6379/TCP`), `${node} 16379/TCP`].sort());
  assert.equal(peersOf(objects, node, 'egress'), [...dns, `${node} 16379/TCP`, `${node} 6379/TCP`].sort());
  assert.equal(peersOf(objects, 'Job/microbank-redis-cluster-bootstrap', 'ingress'), []);
  assert.equal(
    peersOf(objects, 'Job/microbank-redis-cluster-bootstrap', 'egress'),
    [...dns, `${node} 6379/TCP`].sort(),
  );
  assert.equal(peersOf(objects, 'Deployment/microbank-transfer', 'egress'), [...dns, `${node} 6379/TCP`].sort());
  // The migration's NetworkPolicy (applied by hand): valid, and it opens 6379 between both Redis kinds only.
  const [migration] = parseObjects(
    readFileSync(join(k8sDir, KUSTOMIZATIONS.cluster, 'migration', 'network-policy.yaml'), 'utf8'),
  );
  assert.ok(migration);
  assert.equal([...checkSchema(migration), ...checkUnknownFields(migration)], []);
  const opened = [render('dev'), objects].flatMap((o) =>
    podTemplates(o).filter((t) => selectorMatches(asObject(migration.spec).podSelector as Json, t.labels)),
  );
  assert.equal(
    opened.map((t) => nameOf(t.owner)),
    ['StatefulSet/microbank-redis', node],
  );
  // Moving onto the cluster from dev or production keeps every field an update may not change.
  for (const from of ['dev', 'production'] as const)
    assert.equal(checkUpgrade(immutableFields(render(from)), objects, from), [], from);
});

rendered('the chaos monkey (dev) is suspended, may only list and delete pods, runs alone, is never retried', () => {
  const objects = render('dev');
  const rules = [{ apiGroups: [''], resources: ['pods'], verbs: ['list', 'delete'] }];
  assert.equal(get(objects, 'Role/microbank-chaos-monkey').rules, rules);
  const { spec } = get(objects, 'CronJob/microbank-chaos-monkey');
  assert.equal([spec.suspend, spec.concurrencyPolicy, spec.jobTemplate.spec.backoffLimit], [true, 'Forbid', 0]);
});

rendered("each account registers its own Service's URL, as balance's pattern; probes on /readyz and /healthz", () => {
  for (const objects of [render('base'), render('dev'), render('production')]) {
    const pattern = env(get(objects, 'Deployment/microbank-balance'), 'ACCOUNT_URL_PATTERN');
    const accounts = objects.filter((o) => env(o, 'ACCOUNT_NAME')) as Json[];
    assert.is(accounts.length, 2);
    for (const account of accounts) {
      const url = env(account, 'ACCOUNT_URL');
      assert.is(url, pattern.replace('{account}', env(account, 'ACCOUNT_NAME')));
      const selector = get(objects, `Service/${new URL(url).hostname}`).spec.selector;
      assert.ok(labelsMatch(selector, account.spec.template.metadata.labels), url);
    }
    for (const o of objects.filter((o) => o.kind === 'Deployment') as Json[]) {
      const { startupProbe: s, readinessProbe: r, livenessProbe: l } = o.spec.template.spec.containers[0];
      assert.equal(
        [s, r, l].map((p) => p.httpGet.path),
        ['/readyz', '/readyz', '/healthz'],
        o.metadata.name,
      );
    }
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
  const dir = relative(REPO_ROOT, join(k8sDir, KUSTOMIZATIONS.production));
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

cli(
  'k8s passes as an upgrade of its release; a copy whose Redis changed its governing Service does not',
  withCopyOfK8s((copy) => {
    const released = join('k8s', 'released', 'dev.yaml');
    assert.is(k8sCheck('k8s', '--upgrade-from', released, '--upgrade-from', 'k8s/overlays/dev').status, 0);
    const file = join(copy, 'base', 'redis', 'statefulset.yaml');
    writeFileSync(
      file,
      readFileSync(file, 'utf8').replace(/^ {2}serviceName: .*$/m, '  serviceName: microbank-redis-0'),
    );
    const result = k8sCheck(copy, '--upgrade-from', released);
    assert.is(result.status, 1);
    const changed = `StatefulSet/microbank-redis: upgrading from ${released} changes serviceName`;
    assert.ok(result.stdout.includes(`${copy}: ${changed}`), result.stdout);
  }),
);

cli('bad usage exits 2 with the usage, before rendering anything', () => {
  const usages = [['--strict'], ['k8s', 'nowhere'], ['k8s', '--external-secret'], ['--external-secret', 'k8s/x']];
  for (const args of [...usages, ['--upgrade-from', 'nowhere'], ['--record-release', 'k8s']]) {
    const result = k8sCheck(...args);
    assert.is(result.status, 2, args.join(' '));
    assert.match(result.stderr, /^usage: pnpm k8s:check \[--external-secret NAME \.\.\.\] \[--upgrade-from/m);
    assert.is(result.stdout, '');
  }
});
cli.run();
