/** Offline verification of k8s/: it renders, validates, cross-references, and broken copies fail. */
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { REPO_ROOT as repoRoot, testSuite } from '@microbank/testing';
import * as assert from 'uvu/assert';
import { checkManifests, type K8sObject, nameOf, renderKustomization, selectorMatches } from './index.ts';
import {
  bundleOf,
  container,
  EXTERNAL_SECRETS,
  env,
  get,
  type Json,
  KUSTOMIZATIONS,
  k8sDir,
  type Layer,
  objectNames,
  podLabels,
  podSpec,
  render,
  SERVICES,
} from './test-support.ts';

/** Fails with every problem listed when none matches, so a wrong message is easy to see. */
function assertProblem(problems: string[], pattern: RegExp): void {
  assert.ok(
    problems.some((p) => pattern.test(p)),
    `expected a problem matching ${pattern}, got:\n  ${problems.join('\n  ') || '(none)'}`,
  );
}

/** The two overlays a cluster is deployed from; `k8s` itself is the dev one. */
const OVERLAYS = ['dev', 'production'] as const satisfies readonly Layer[];
/** The options each layer is checked with: production and the base create no Secret, they require them. */
const checkOptions = (layer: Layer) =>
  layer === 'production' || layer === 'base' ? { externalSecrets: EXTERNAL_SECRETS } : {};

// ---------------------------------------------------------------------------------------------
const rendered = testSuite('k8s: the render');

/** What the base renders: no Secret, no chaos monkey (k8s/base). */
const BASE_OBJECTS = [
  'ConfigMap/microbank-grafana-dashboard',
  'ConfigMap/microbank-redis-config-<hash>',
  'Deployment/microbank-account-system',
  'Deployment/microbank-balance',
  'Deployment/microbank-dashboard',
  'Deployment/microbank-john-account',
  'Deployment/microbank-mary-account',
  'Deployment/microbank-transfer',
  'Namespace/microbank',
  'NetworkPolicy/microbank-balance',
  'NetworkPolicy/microbank-redis',
  'NetworkPolicy/microbank-transfer',
  'PodDisruptionBudget/microbank-transfer',
  'Service/microbank-account-system',
  'Service/microbank-balance',
  'Service/microbank-dashboard',
  'Service/microbank-john-account',
  'Service/microbank-mary-account',
  'Service/microbank-redis',
  'Service/microbank-redis-headless',
  'Service/microbank-transfer',
  'StatefulSet/microbank-redis',
];

rendered('kubectl kustomize k8s renders exactly the dev overlay', () => {
  assert.equal(render('root'), render('dev'));
});

rendered("k8s (the dev overlay) renders the objects and names of the seed, plus the base's new ones", () => {
  assert.equal(
    objectNames(render()),
    [
      ...BASE_OBJECTS,
      'CronJob/microbank-chaos-monkey',
      'Role/microbank-chaos-monkey',
      'RoleBinding/microbank-chaos-monkey',
      'Secret/microbank-redis',
      'Secret/microbank-snapshot-key',
      'Secret/microbank-transfer-clients',
      'ServiceAccount/microbank-chaos-monkey',
    ].sort(),
  );
});

rendered('the production overlay renders the base plus PodDisruptionBudgets, and nothing else', () => {
  assert.equal(
    objectNames(render('production')),
    [...BASE_OBJECTS, 'PodDisruptionBudget/microbank-account-system', 'PodDisruptionBudget/microbank-balance'].sort(),
  );
});

rendered('the base renders the base objects', () => {
  assert.equal(objectNames(render('base')), BASE_OBJECTS);
});

rendered(
  'every rendered object of both overlays (and the base) passes schema, unknown-field and cross-reference checks',
  () => {
    for (const layer of ['root', 'base', ...OVERLAYS] as const) {
      assert.equal(checkManifests(render(layer), checkOptions(layer)), [], layer);
    }
  },
);

/** The labels every object carries (https://kubernetes.io/docs/concepts/overview/working-with-objects/common-labels/). */
const COMMON_LABELS = {
  'app.kubernetes.io/part-of': 'microbank',
  'app.kubernetes.io/instance': 'microbank',
  'app.kubernetes.io/version': '0.1.0',
  'app.kubernetes.io/managed-by': 'kustomize',
};

rendered('everything is in namespace microbank and carries the recommended labels, pod templates too', () => {
  for (const layer of OVERLAYS) {
    for (const o of render(layer)) {
      const where = `${layer}: ${nameOf(o)}`;
      if (o.kind !== 'Namespace') assert.is(o.metadata.namespace, 'microbank', where);
      const labels = o.metadata.labels ?? {};
      for (const [key, value] of Object.entries(COMMON_LABELS)) assert.is(labels[key], value, `${where}: ${key}`);
      if (o.kind === 'Namespace') continue;
      for (const key of ['app.kubernetes.io/name', 'app.kubernetes.io/component'])
        assert.ok(labels[key], `${where} has no ${key}`);
      if (['Deployment', 'StatefulSet', 'CronJob'].includes(o.kind)) {
        const pod = podLabels(o);
        for (const key of [...Object.keys(COMMON_LABELS), 'app.kubernetes.io/name', 'app.kubernetes.io/component'])
          assert.is(pod[key], labels[key], `${where}: pod template ${key}`);
      }
    }
  }
});

/** The selectors of the seed: immutable on workloads, so the new labels must never enter one. */
const seedSelector = (name: string) =>
  name === 'redis'
    ? { 'app.kubernetes.io/name': 'redis', 'app.kubernetes.io/part-of': 'microbank' }
    : {
        'app.kubernetes.io/component': 'service',
        'app.kubernetes.io/name': name,
        'app.kubernetes.io/part-of': 'microbank',
      };

rendered(
  'selectors are those of the seed: no version, instance or managed-by in any, the account label in peers only',
  () => {
    for (const layer of OVERLAYS) {
      const objects = render(layer);
      for (const svc of SERVICES) {
        assert.equal(get(objects, 'Deployment', `microbank-${svc}`).spec.selector, { matchLabels: seedSelector(svc) });
        assert.equal(get(objects, 'Service', `microbank-${svc}`).spec.selector, seedSelector(svc));
      }
      assert.equal(get(objects, 'StatefulSet', 'microbank-redis').spec.selector, {
        matchLabels: seedSelector('redis'),
      });
      for (const name of ['microbank-redis', 'microbank-redis-headless'])
        assert.equal(get(objects, 'Service', name).spec.selector, seedSelector('redis'), name);
      // Every selector anywhere, NetworkPolicy peers included.
      const selectors: string[] = [];
      const collect = (value: unknown, key = ''): void => {
        if (Array.isArray(value)) for (const item of value) collect(item, key);
        else if (value && typeof value === 'object') {
          if (/^(selector|podSelector|namespaceSelector)$/.test(key)) selectors.push(JSON.stringify(value));
          for (const [k, v] of Object.entries(value)) collect(v, k);
        }
      };
      for (const o of objects) collect(o);
      assert.ok(selectors.length > 20, `${layer}: only ${selectors.length} selectors found`);
      for (const selector of selectors)
        assert.not.match(selector, /version|instance|managed-by/, `${layer}: ${selector}`);
      // Exact, like those of the workloads and Services above: the account label picks accounts as
      // NetworkPolicy peers only.
      for (const pdb of objects.filter((o) => o.kind === 'PodDisruptionBudget') as Json[]) {
        const name = pdb.metadata.name.replace(/^microbank-/, '');
        assert.equal(pdb.spec.selector, { matchLabels: seedSelector(name) }, `${layer}: ${nameOf(pdb as K8sObject)}`);
      }
    }
  },
);

rendered("the claim template keeps the seed's labels: a StatefulSet's volumeClaimTemplates never change", () => {
  for (const layer of OVERLAYS) {
    const sts = get(render(layer), 'StatefulSet', 'microbank-redis');
    assert.equal(sts.spec.volumeClaimTemplates[0].metadata, {
      name: 'data',
      labels: { 'app.kubernetes.io/name': 'redis', 'app.kubernetes.io/part-of': 'microbank' },
    });
  }
});

rendered('the PersistentVolumeClaim is the StatefulSet claim template: data-microbank-redis-0, ReadWriteOnce', () => {
  for (const [layer, size] of [
    ['dev', '1Gi'],
    ['production', '10Gi'],
  ] as const) {
    const sts = get(render(layer), 'StatefulSet', 'microbank-redis');
    const claims = sts.spec.volumeClaimTemplates as Json[];
    assert.is(claims.length, 1);
    assert.is(`${claims[0]?.metadata.name}-${sts.metadata.name}-0`, 'data-microbank-redis-0');
    assert.equal(claims[0]?.spec.accessModes, ['ReadWriteOnce'], layer);
    assert.is(claims[0]?.spec.resources.requests.storage, size, layer);
    assert.is(sts.spec.replicas, 1);
  }
});
rendered.run();

// ---------------------------------------------------------------------------------------------
const services = testSuite('k8s: the services');

services('each service runs its own bundle with node as PID 1, from the one kustomize-set image', () => {
  const objects = render();
  const images = new Set<string>();
  for (const svc of SERVICES) {
    const c = container(get(objects, 'Deployment', `microbank-${svc}`));
    assert.equal(c.command, ['node', bundleOf(svc)], svc);
    assert.is(c.args, undefined, `${svc}: args would be appended to the command`);
    images.add(c.image);
  }
  assert.equal([...images], ['microbank:0.1.0']);
});

services('Services on port 80 reach the unprivileged container port: NodePort in dev, ClusterIP in production', () => {
  for (const [layer, type] of [
    ['dev', 'NodePort'],
    ['production', 'ClusterIP'],
  ] as const) {
    const objects = render(layer);
    for (const svc of SERVICES)
      assert.is(get(objects, 'Service', `microbank-${svc}`).spec.type, type, `${layer}: ${svc}`);
    for (const name of ['microbank-redis', 'microbank-redis-headless'])
      assert.is.not(
        get(objects, 'Service', name).spec.type,
        'NodePort',
        `${layer}: ${name} must not be on a node port`,
      );
  }
  const objects = render();
  for (const svc of SERVICES) {
    const service = get(objects, 'Service', `microbank-${svc}`);
    assert.equal(
      service.spec.ports.map((p: Json) => p.port),
      [80],
    );
    const port = container(get(objects, 'Deployment', `microbank-${svc}`)).ports.find(
      (p: Json) => p.name === service.spec.ports[0].targetPort,
    );
    assert.ok(port.containerPort >= 1024, `${svc}: container port ${port.containerPort} is privileged`);
    assert.is(env(container(get(objects, 'Deployment', `microbank-${svc}`)), 'PORT').value, String(port.containerPort));
  }
});

services('probes: startup covers a long replay on /readyz, readiness /readyz, liveness /healthz', () => {
  for (const svc of SERVICES) {
    const c = container(get(render(), 'Deployment', `microbank-${svc}`));
    assert.is(c.startupProbe.httpGet.path, '/readyz', svc);
    assert.ok(
      c.startupProbe.periodSeconds * c.startupProbe.failureThreshold >= 180,
      `${svc}: startup budget under 3 minutes`,
    );
    assert.is(c.readinessProbe.httpGet.path, '/readyz', svc);
    assert.is(c.livenessProbe.httpGet.path, '/healthz', `${svc}: liveness must not depend on Redis`);
  }
});

services('accounts are single writers (Recreate) and register the URL of their own Service', () => {
  const objects = render();
  for (const name of ['john-account', 'mary-account']) {
    const deployment = get(objects, 'Deployment', `microbank-${name}`);
    assert.is(deployment.spec.strategy?.type, 'Recreate', name);
    const c = container(deployment);
    assert.is(env(c, 'ACCOUNT_NAME').value, name);
    const host = new URL(env(c, 'ACCOUNT_URL').value).hostname;
    const service = get(objects, 'Service', host);
    assert.ok(
      selectorMatches({ matchLabels: service.spec.selector }, deployment.spec.template.metadata.labels),
      `${host} does not select ${name}`,
    );
  }
  for (const name of ['account-system', 'balance']) {
    assert.is.not(get(objects, 'Deployment', `microbank-${name}`).spec.strategy?.type, 'Recreate', name);
  }
});

services('Prometheus scrape annotations name the port and path where every service serves /metrics', () => {
  for (const layer of OVERLAYS) {
    const objects = render(layer);
    for (const svc of SERVICES) {
      const deployment = get(objects, 'Deployment', `microbank-${svc}`);
      const http = container(deployment).ports.find((p: Json) => p.name === 'http');
      assert.equal(
        deployment.spec.template.metadata.annotations,
        {
          'prometheus.io/scrape': 'true',
          'prometheus.io/port': String(http.containerPort),
          'prometheus.io/path': '/metrics',
        },
        `${layer}: ${svc}`,
      );
    }
  }
});

services('the pre-stop pause: on SIGTERM each service keeps serving, then drains, within the grace period', () => {
  for (const layer of OVERLAYS) {
    for (const svc of SERVICES) {
      const deployment = get(render(layer), 'Deployment', `microbank-${svc}`);
      const c = container(deployment);
      const delay = Number(env(c, 'SHUTDOWN_DELAY_MS').value);
      const drain = Number(env(c, 'SHUTDOWN_DRAIN_MS').value);
      // Long enough for kube-proxy and the ingress to drop the pod from the endpoints first.
      assert.ok(delay >= 2000, `${layer}: ${svc}: SHUTDOWN_DELAY_MS ${delay} is too short a pause`);
      // Stop hooks get 10 s in the service runtime; all of it must end before the SIGKILL.
      const grace = podSpec(deployment).terminationGracePeriodSeconds * 1000;
      assert.ok(
        delay + drain + 10_000 <= grace,
        `${layer}: ${svc}: ${delay} + ${drain} + 10000 ms > grace ${grace} ms`,
      );
      // The pause is the process's own: a preStop hook as well would double it.
      assert.is(c.lifecycle?.preStop, undefined, `${layer}: ${svc}`);
    }
  }
});

services('REDIS_URL carries the password from the Secret, never a literal one', () => {
  const objects = render();
  const password = Buffer.from(get(objects, 'Secret', 'microbank-redis').data.password, 'base64').toString();
  assert.match(password, /^[A-Za-z0-9._~-]+$/, 'the dev password must be URL-safe, it goes into REDIS_URL');
  for (const svc of SERVICES) {
    const c = container(get(objects, 'Deployment', `microbank-${svc}`));
    assert.equal(env(c, 'REDIS_PASSWORD').valueFrom, { secretKeyRef: { name: 'microbank-redis', key: 'password' } });
    assert.is(env(c, 'REDIS_URL').value, 'redis://:$(REDIS_PASSWORD)@microbank-redis:6379');
  }
  const everythingButTheSecret = JSON.stringify(objects.filter((o) => o.kind !== 'Secret'));
  assert.not.ok(everythingButTheSecret.includes(password), 'the password appears outside the Secret');
});
services.run();

// ---------------------------------------------------------------------------------------------
const redis = testSuite('k8s: Redis');

redis('durable: AOF with fsync always in /data on the claim; SIGTERM gets a grace period', () => {
  const objects = render();
  const sts = get(objects, 'StatefulSet', 'microbank-redis');
  const configName = podSpec(sts).volumes.find((v: Json) => v.name === 'config').configMap.name;
  const conf = get(objects, 'ConfigMap', configName).data['redis.conf'] as string;
  for (const line of ['appendonly yes', 'appendfsync always', 'dir /data'])
    assert.match(conf, new RegExp(`^${line}$`, 'm'));
  assert.equal(
    container(sts).volumeMounts.find((m: Json) => m.mountPath === '/data')?.name,
    sts.spec.volumeClaimTemplates[0].metadata.name,
  );
  assert.ok(podSpec(sts).terminationGracePeriodSeconds >= 30);
  assert.match(
    container(sts).command.join(' '),
    /exec redis-server /,
    'redis-server must replace the shell to get SIGTERM',
  );
});

redis('the StatefulSet is governed by a headless Service; clients use the ClusterIP Service microbank-redis', () => {
  for (const layer of OVERLAYS) {
    const objects = render(layer);
    const sts = get(objects, 'StatefulSet', 'microbank-redis');
    assert.is(sts.spec.serviceName, 'microbank-redis-headless', layer);
    const headless = get(objects, 'Service', 'microbank-redis-headless');
    assert.is(headless.spec.clusterIP, 'None', layer);
    assert.ok(selectorMatches({ matchLabels: headless.spec.selector }, podLabels(sts)), layer);
    assert.equal(
      headless.spec.ports.map((p: Json) => [p.port, p.targetPort]),
      [[6379, 'redis']],
    );
    const clients = get(objects, 'Service', 'microbank-redis');
    assert.is(clients.spec.clusterIP, undefined, `${layer}: microbank-redis gets a cluster IP`);
    assert.is(
      env(container(get(objects, 'Deployment', 'microbank-balance')), 'REDIS_URL').value.split('@')[1],
      'microbank-redis:6379',
    );
  }
});

/** A Kubernetes memory quantity (Mi, Gi) or a Redis size (mb, gb) in bytes. */
function bytes(quantity: string): number {
  const [, n, unit] = /^(\d+)(Mi|Gi|mb|gb)$/.exec(quantity) ?? [];
  assert.ok(n && unit, `unexpected size ${quantity}`);
  return Number(n) * 1024 ** (unit.toLowerCase().startsWith('g') ? 3 : 2);
}

redis('maxmemory (included by redis.conf) stays at most about half of the memory limit, in both overlays', () => {
  for (const layer of OVERLAYS) {
    const objects = render(layer);
    const sts = get(objects, 'StatefulSet', 'microbank-redis');
    const configName = podSpec(sts).volumes.find((v: Json) => v.name === 'config').configMap.name;
    const config = get(objects, 'ConfigMap', configName).data;
    const mount = container(sts).volumeMounts.find((m: Json) => m.name === 'config').mountPath;
    assert.match(config['redis.conf'], new RegExp(`^include ${mount}/maxmemory\\.conf$`, 'm'), layer);
    assert.not.match(config['redis.conf'], /^maxmemory /m, `${layer}: maxmemory belongs in maxmemory.conf`);
    const maxmemory = /^maxmemory (\S+)$/m.exec(config['maxmemory.conf'])?.[1] ?? '';
    const limit = container(sts).resources.limits.memory as string;
    assert.ok(bytes(maxmemory) <= 0.55 * bytes(limit), `${layer}: maxmemory ${maxmemory} with a ${limit} limit`);
    assert.ok(bytes(maxmemory) >= 0.4 * bytes(limit), `${layer}: maxmemory ${maxmemory} wastes a ${limit} limit`);
  }
});

redis('the password reaches redis-server and redis-cli by environment and stdin, never argv', () => {
  const sts = get(render(), 'StatefulSet', 'microbank-redis');
  const c = container(sts);
  assert.equal(env(c, 'REDISCLI_AUTH').valueFrom, { secretKeyRef: { name: 'microbank-redis', key: 'password' } });
  const commands = [c.command, c.readinessProbe.exec.command, c.livenessProbe.exec.command].map((cmd: string[]) =>
    cmd.join(' '),
  );
  for (const cmd of commands) {
    assert.not.match(cmd, /(^|\s)(-a|--pass|--user)\s/, `password flag in argv: ${cmd}`);
    assert.not.match(cmd, /--requirepass/, `password in redis-server argv: ${cmd}`);
  }
  assert.match(commands[0] as string, /redis-server \S+ - <<EOF\s+requirepass \$\{REDISCLI_AUTH\}/);
  assert.match(commands[1] as string, /ping .*grep -q PONG$/);
  assert.match(commands[2] as string, /ping .*grep -qE 'PONG\|LOADING'$/, 'liveness must accept LOADING');
});

redis('hardened: uid 999, no token, read-only root, all capabilities dropped', () => {
  const spec = podSpec(get(render(), 'StatefulSet', 'microbank-redis'));
  assert.is(spec.securityContext.runAsUser, 999);
  assert.is(spec.securityContext.fsGroup, 999);
  assert.is(spec.automountServiceAccountToken, false);
  assert.is(spec.securityContext.seccompProfile.type, 'RuntimeDefault');
});

redis('the NetworkPolicy admits every microbank service and no foreign pod', () => {
  const objects = render();
  const policy = get(objects, 'NetworkPolicy', 'microbank-redis');
  assert.ok(
    selectorMatches(
      policy.spec.podSelector,
      get(objects, 'StatefulSet', 'microbank-redis').spec.template.metadata.labels,
    ),
  );
  const peers = policy.spec.ingress.flatMap((rule: Json) => rule.from as Json[]);
  assert.ok(peers.length > 0, 'an ingress rule without "from" admits everyone');
  const admits = (labels: Record<string, string>) =>
    peers.some(
      (peer: Json) =>
        peer.namespaceSelector === undefined && peer.ipBlock === undefined && selectorMatches(peer.podSelector, labels),
    );
  for (const svc of SERVICES)
    assert.ok(admits(get(objects, 'Deployment', `microbank-${svc}`).spec.template.metadata.labels), svc);
  assert.not.ok(admits({ app: 'intruder' }));
});
redis.run();

// ---------------------------------------------------------------------------------------------
const chaos = testSuite('k8s: the chaos monkey');

chaos('is a suspended, non-overlapping CronJob on its own ServiceAccount', () => {
  const objects = render();
  const cron = get(objects, 'CronJob', 'microbank-chaos-monkey');
  assert.is(cron.spec.suspend, true);
  assert.is(cron.spec.concurrencyPolicy, 'Forbid');
  assert.is(cron.spec.jobTemplate.spec.backoffLimit, 0, 'a retried run would delete a second pod');
  assert.is(podSpec(cron).serviceAccountName, 'microbank-chaos-monkey');
});

chaos('may only list and delete pods, in its namespace', () => {
  const objects = render();
  assert.not.ok(objects.some((o) => o.kind === 'ClusterRole' || o.kind === 'ClusterRoleBinding'));
  assert.equal(get(objects, 'Role', 'microbank-chaos-monkey').rules, [
    { apiGroups: [''], resources: ['pods'], verbs: ['list', 'delete'] },
  ]);
  const binding = get(objects, 'RoleBinding', 'microbank-chaos-monkey');
  assert.equal(binding.roleRef, {
    apiGroup: 'rbac.authorization.k8s.io',
    kind: 'Role',
    name: 'microbank-chaos-monkey',
  });
  assert.equal(binding.subjects, [{ kind: 'ServiceAccount', name: 'microbank-chaos-monkey', namespace: 'microbank' }]);
});
chaos.run();

// ---------------------------------------------------------------------------------------------
const production = testSuite('k8s: the production overlay');

production('every service runs the one image from the registry, by digest (the placeholder to replace)', () => {
  const objects = render('production');
  for (const svc of SERVICES) {
    assert.match(
      container(get(objects, 'Deployment', `microbank-${svc}`)).image,
      /^registry\.example\.com\/microbank\/microbank@sha256:[0-9a-f]{64}$/,
      svc,
    );
  }
  const kustomization = readFileSync(join(KUSTOMIZATIONS.production, 'kustomization.yaml'), 'utf8');
  assert.match(
    kustomization,
    /# replace[^\n]*\n(\s*#[^\n]*\n)*\s*digest: sha256:0{64}$/m,
    'the placeholder says "replace"',
  );
});

production('two replicas of account-system, balance and transfer; an account is a single writer, one pod', () => {
  const objects = render('production');
  const replicas = Object.fromEntries(
    SERVICES.map((svc) => [svc, get(objects, 'Deployment', `microbank-${svc}`).spec.replicas]),
  );
  assert.equal(replicas, {
    'account-system': 2,
    balance: 2,
    'john-account': 1,
    'mary-account': 1,
    transfer: 2,
    dashboard: 1,
  });
});

production(
  'a PodDisruptionBudget (maxUnavailable 1) for each service with two replicas, selecting its pods only',
  () => {
    const objects = render('production');
    const budgets = objects.filter((o) => o.kind === 'PodDisruptionBudget') as Json[];
    assert.equal(budgets.map((b) => b.metadata.name).sort(), [
      'microbank-account-system',
      'microbank-balance',
      'microbank-transfer',
    ]);
    const templates = objects.filter((o) => ['Deployment', 'StatefulSet'].includes(o.kind));
    for (const budget of budgets) {
      assert.equal(budget.spec.maxUnavailable, 1, budget.metadata.name);
      assert.is(budget.spec.minAvailable, undefined, budget.metadata.name);
      const selected = templates.filter((t) => selectorMatches(budget.spec.selector, podLabels(t))).map(nameOf);
      assert.equal(selected, [`Deployment/${budget.metadata.name}`]);
      assert.ok(get(objects, 'Deployment', budget.metadata.name).spec.replicas >= 2, budget.metadata.name);
    }
  },
);

production('every container has explicit requests and limits, raised above dev', () => {
  const dev = render('dev');
  const objects = render('production');
  for (const o of objects.filter((x) => ['Deployment', 'StatefulSet'].includes(x.kind))) {
    const { requests, limits } = container(o).resources;
    for (const [group, values] of Object.entries({ requests, limits }))
      for (const key of ['cpu', 'memory']) assert.ok(values?.[key], `${nameOf(o)}: resources.${group}.${key}`);
    const before = container(get(dev, o.kind, o.metadata.name)).resources;
    assert.ok(bytes(limits.memory) > bytes(before.limits.memory), `${nameOf(o)}: memory limit not raised`);
    assert.ok(bytes(requests.memory) > bytes(before.requests.memory), `${nameOf(o)}: memory request not raised`);
  }
  const redis = container(get(objects, 'StatefulSet', 'microbank-redis')).resources;
  assert.is(redis.requests.memory, redis.limits.memory, 'Redis memory is guaranteed: it is not evicted first');
});
production.run();

// ---------------------------------------------------------------------------------------------
const image = testSuite('k8s: image and docs agree with the manifests');

image('the Dockerfile builds with the lockfile and ships every bundle the Deployments run', () => {
  const dockerfile = readFileSync(join(repoRoot, 'Dockerfile'), 'utf8');
  const stages = dockerfile.split(/^FROM /m).slice(1);
  assert.is(stages.length, 2, 'a build stage and a runtime stage');
  const [build, runtime] = stages as [string, string];
  assert.match(build, /^RUN npm i -g pnpm@10\.34\.9$/m);
  assert.match(build, /pnpm install --frozen-lockfile.*&& pnpm build$/m);
  for (const svc of SERVICES) {
    const dist = bundleOf(svc).replace(/\/[^/]+$/, '');
    assert.match(runtime, new RegExp(`^COPY --from=build /src/${dist} ${dist}$`, 'm'), `runtime stage lacks ${dist}`);
  }
  assert.not.match(runtime, /^COPY .*node_modules/m);
  assert.match(runtime, /^USER [1-9]\d*(:[1-9]\d*)?$/m, 'the runtime stage must switch to a numeric non-root user');
  assert.match(runtime, /^CMD \["node", "packages\/account-system\/dist\/main\.mjs"\]$/m);
});

image('every Deployment runs a file that `pnpm build` produces', async () => {
  const { buildServices } = await import('@microbank/build');
  const outdir = mkdtempSync(join(tmpdir(), 'microbank-build-'));
  try {
    // buildServices(outdir) writes <outdir>/<package>/<file> for what lands in packages/<package>/dist/.
    const built = new Set((await buildServices(outdir)).map((file) => relative(outdir, file)));
    for (const svc of SERVICES) {
      const bundle = container(get(render(), 'Deployment', `microbank-${svc}`)).command[1] as string;
      const [, pkg, file] = /^packages\/([^/]+)\/dist\/(.+)$/.exec(bundle) ?? [];
      assert.ok(built.has(`${pkg}/${file}`), `${svc} runs ${bundle}, but the build produces ${[...built].join(', ')}`);
    }
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
});

image('the README builds the image under the name and tag that kustomize deploys', () => {
  const readme = readFileSync(join(k8sDir, 'README.md'), 'utf8');
  const deployed = container(get(render(), 'Deployment', 'microbank-account-system')).image as string;
  assert.ok(readme.includes(`docker build -t ${deployed} .`), `README does not build ${deployed}`);
});
image.run();

/** A test on a fresh copy of k8s/ in a temporary directory, which it removes afterwards. */
function withCopyOfK8s(test: (copy: string) => void): () => void {
  return () => {
    const copy = mkdtempSync(join(tmpdir(), 'microbank-k8s-'));
    try {
      cpSync(k8sDir, copy, { recursive: true });
      test(copy);
    } finally {
      rmSync(copy, { recursive: true, force: true });
    }
  };
}

/** Breaks a copy of k8s/ on disk: `replicas: "two"` in the service base, so every service's Deployment. */
function breakReplicas(copy: string): void {
  const file = join(copy, 'base', 'service-base', 'deployment.yaml');
  const original = readFileSync(file, 'utf8');
  assert.match(original, /^ {2}replicas: 1$/m);
  writeFileSync(file, original.replace(/^ {2}replicas: 1$/m, '  replicas: "two"'));
}

// ---------------------------------------------------------------------------------------------
const broken = testSuite('k8s: broken manifests are caught');

/** Applies a mutation to a fresh render and returns the problems found. */
function problemsAfter(mutate: (objects: K8sObject[]) => void): string[] {
  const objects = render();
  mutate(objects);
  return checkManifests(objects);
}

const cases: [string, RegExp, (objects: K8sObject[]) => void][] = [
  [
    'a wrong type (replicas "two")',
    /Deployment\/microbank-balance: schema: spec\.replicas must be integer/,
    (o) => {
      get(o, 'Deployment', 'microbank-balance').spec.replicas = 'two';
    },
  ],
  [
    'a value outside an enum',
    /schema: spec\.template\.spec\.containers\.0\.imagePullPolicy must be equal to one of the allowed values/,
    (o) => {
      container(get(o, 'Deployment', 'microbank-balance')).imagePullPolicy = 'Sometimes';
    },
  ],
  [
    'a malformed quantity',
    /StatefulSet\/microbank-redis: schema: .*limits\.memory must match format "quantity"/,
    (o) => {
      container(get(o, 'StatefulSet', 'microbank-redis')).resources.limits.memory = '384 MB';
    },
  ],
  [
    'a missing required field',
    /Service\/microbank-redis: schema: spec\.ports\.0 must have required property '?port'?/,
    (o) => {
      delete get(o, 'Service', 'microbank-redis').spec.ports[0].port;
    },
  ],
  [
    'a kind that does not exist in its API group',
    /Deployment\/microbank-balance: no schema for apiVersion apps\/v1beta0 kind Deployment/,
    (o) => {
      get(o, 'Deployment', 'microbank-balance').apiVersion = 'apps/v1beta0';
    },
  ],
  [
    'Secret data that is not base64',
    /Secret\/microbank-redis: schema: data\.password must match format "byte"/,
    (o) => {
      get(o, 'Secret', 'microbank-redis').data.password = 'plain text!';
    },
  ],
  [
    'an unknown field',
    /containers\[0\]\.imagePullPolicyy: unknown field "imagePullPolicyy"/,
    (o) => {
      container(get(o, 'Deployment', 'microbank-john-account')).imagePullPolicyy = 'IfNotPresent';
    },
  ],
  [
    'an unknown field at the top of a spec',
    /CronJob\/microbank-chaos-monkey: spec\.suspended: unknown field/,
    (o) => {
      get(o, 'CronJob', 'microbank-chaos-monkey').spec.suspended = true;
    },
  ],
  [
    'a Service selector that matches no pod',
    /Service\/microbank-balance: spec\.selector .* matches no pod template/,
    (o) => {
      get(o, 'Service', 'microbank-balance').spec.selector['app.kubernetes.io/name'] = 'balanse';
    },
  ],
  [
    'a Deployment whose selector misses its own pods',
    /Deployment\/microbank-balance: spec\.selector .* does not match its own pod labels/,
    (o) => {
      get(o, 'Deployment', 'microbank-balance').spec.selector.matchLabels['app.kubernetes.io/name'] = 'other';
    },
  ],
  [
    'a reference to a Secret that is not rendered',
    /env REDIS_PASSWORD: Secret "microbank-redis-typo" is not in the render/,
    (o) => {
      env(container(get(o, 'Deployment', 'microbank-account-system')), 'REDIS_PASSWORD').valueFrom.secretKeyRef.name =
        'microbank-redis-typo';
    },
  ],
  [
    'a Secret key that does not exist',
    /env REDISCLI_AUTH: Secret "microbank-redis" has no key "pass"/,
    (o) => {
      env(container(get(o, 'StatefulSet', 'microbank-redis')), 'REDISCLI_AUTH').valueFrom.secretKeyRef.key = 'pass';
    },
  ],
  [
    'the Secret missing from the render',
    /Secret "microbank-redis" is not in the render/,
    (o) => {
      o.splice(
        o.findIndex((x) => x.kind === 'Secret'),
        1,
      );
    },
  ],
  [
    'a ConfigMap volume that is not rendered',
    /volumes\[0\]: ConfigMap "redis-conf" is not in the render/,
    (o) => {
      podSpec(get(o, 'StatefulSet', 'microbank-redis')).volumes[0].configMap.name = 'redis-conf';
    },
  ],
  [
    'a probe on a port that does not exist',
    /readinessProbe\.httpGet\.port metrics is not a port of the container/,
    (o) => {
      container(get(o, 'Deployment', 'microbank-balance')).readinessProbe.httpGet.port = 'metrics';
    },
  ],
  [
    'a Service targetPort that no container has',
    /Service\/microbank-john-account: spec\.ports\[0\]\.targetPort 8081 is no container port/,
    (o) => {
      get(o, 'Service', 'microbank-john-account').spec.ports[0].targetPort = 8081;
    },
  ],
  [
    'a container without probes',
    /microbank-mary-account: .*livenessProbe is missing/,
    (o) => {
      delete container(get(o, 'Deployment', 'microbank-mary-account')).livenessProbe;
    },
  ],
  [
    'a container without resources',
    /microbank-account-system: .*resources\.requests\.cpu is not set/,
    (o) => {
      delete container(get(o, 'Deployment', 'microbank-account-system')).resources;
    },
  ],
  [
    'a container running as root',
    /microbank-redis: .*runAsUser is 0 \(root\)/,
    (o) => {
      const c = container(get(o, 'StatefulSet', 'microbank-redis'));
      c.securityContext.runAsUser = 0;
    },
  ],
  [
    'a pod allowed to run as root',
    /CronJob\/microbank-chaos-monkey: .*runAsNonRoot must be true/,
    (o) => {
      const spec = podSpec(get(o, 'CronJob', 'microbank-chaos-monkey'));
      delete spec.securityContext.runAsNonRoot;
      delete spec.containers[0].securityContext.runAsNonRoot;
    },
  ],
  [
    'a writable root filesystem',
    /readOnlyRootFilesystem must be true/,
    (o) => {
      container(get(o, 'Deployment', 'microbank-balance')).securityContext.readOnlyRootFilesystem = false;
    },
  ],
  [
    'a service account token where none is needed',
    /microbank-balance: .*automountServiceAccountToken must be false/,
    (o) => {
      delete podSpec(get(o, 'Deployment', 'microbank-balance')).automountServiceAccountToken;
    },
  ],
  [
    'an unpinned image',
    /image "redis" needs a pinned tag/,
    (o) => {
      container(get(o, 'StatefulSet', 'microbank-redis')).image = 'redis';
    },
  ],
  [
    '$(REDIS_PASSWORD) used before it is defined',
    /env REDIS_URL uses \$\(REDIS_PASSWORD\), which is not defined before it/,
    (o) => {
      const c = container(get(o, 'Deployment', 'microbank-balance'));
      c.env = [...c.env].sort((a: Json, b: Json) => (a.name === 'REDIS_URL' ? -1 : b.name === 'REDIS_URL' ? 1 : 0));
    },
  ],
  [
    'a URL to a Service that does not exist',
    /env ACCOUNT_URL: host "microbank-jon-account" is not a Service/,
    (o) => {
      env(container(get(o, 'Deployment', 'microbank-john-account')), 'ACCOUNT_URL').value =
        'http://microbank-jon-account';
    },
  ],
  [
    'a NetworkPolicy that locks the services out of Redis',
    /env REDIS_URL: no NetworkPolicy rule admits it to StatefulSet\/microbank-redis/,
    (o) => {
      get(o, 'NetworkPolicy', 'microbank-redis').spec.ingress[0].from[0].podSelector.matchLabels[
        'app.kubernetes.io/name'
      ] = 'redis';
    },
  ],
  [
    'an egress NetworkPolicy whose rule names other pods than Redis (the transfer pods could not reach it)',
    /microbank-transfer: .*env REDIS_URL: no NetworkPolicy rule lets it out to StatefulSet\/microbank-redis/,
    (o) => {
      get(o, 'NetworkPolicy', 'microbank-transfer').spec.egress[0].to[0].podSelector.matchLabels[
        'app.kubernetes.io/name'
      ] = 'transfer';
    },
  ],
  [
    'a RoleBinding to a ServiceAccount that is not rendered',
    /subjects\[0\]: ServiceAccount "chaos" in namespace "microbank" is not in the render/,
    (o) => {
      get(o, 'RoleBinding', 'microbank-chaos-monkey').subjects[0].name = 'chaos';
    },
  ],
  [
    'an object outside any rendered namespace',
    /Service\/microbank-balance: namespace "default" is not created by the render/,
    (o) => {
      get(o, 'Service', 'microbank-balance').metadata.namespace = 'default';
    },
  ],
];

for (const [what, expected, mutate] of cases) {
  broken(`${what} is reported`, () => assertProblem(problemsAfter(mutate), expected));
}

broken('a Secret declared external (--external-secret) is not reported missing; any other still is', () => {
  const objects = render().filter((o) => o.kind !== 'Secret');
  const problems = checkManifests(objects, { externalSecrets: ['microbank-redis'] });
  assert.not.ok(
    problems.some((p) => p.includes('"microbank-redis"')),
    problems.join('\n'),
  );
  assertProblem(problems, /env SNAPSHOT_KEY: Secret "microbank-snapshot-key" is not in the render/);
  assert.equal(checkManifests(objects, { externalSecrets: EXTERNAL_SECRETS }), []);
});

broken('the production overlay without its Secrets declared external: exactly the Secret references fail', () => {
  const problems = checkManifests(render('production'));
  assert.ok(problems.length > 0);
  for (const problem of problems)
    assert.match(
      problem,
      /: env [A-Z_]+: Secret "microbank-(redis|snapshot-key|transfer-clients)" is not in the render$/,
    );
});

broken(
  'a broken YAML file on disk fails: replicas: "two" in a copy of k8s/',
  withCopyOfK8s((copy) => {
    breakReplicas(copy);
    const problems = checkManifests(renderKustomization(copy));
    for (const svc of SERVICES)
      assertProblem(problems, new RegExp(`Deployment/microbank-${svc}: schema: spec\\.replicas must be integer`));
  }),
);

broken(
  'a copy of k8s/ with invalid YAML or a missing file fails to render',
  withCopyOfK8s((copy) => {
    const file = join(copy, 'base', 'redis', 'service.yaml');
    writeFileSync(file, `${readFileSync(file, 'utf8')}\n  ports: [unclosed\n`);
    assert.throws(() => renderKustomization(copy), /kubectl kustomize .* failed/);
    rmSync(file);
    assert.throws(() => renderKustomization(copy), /service\.yaml/);
  }),
);
broken.run();

// ---------------------------------------------------------------------------------------------
const cli = testSuite('k8s: the command line (pnpm k8s:check)');

/** Runs `pnpm k8s:check` (main.ts, as the root package.json runs it) from the repository root. */
function k8sCheck(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const main = fileURLToPath(new URL('main.ts', import.meta.url));
  const result = spawnSync(process.execPath, ['--import', 'tsx', main, ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

cli('k8s/ passes: exit 0, by default and when named', () => {
  for (const args of [[], ['k8s']]) {
    const result = k8sCheck(...args);
    assert.is(result.status, 0, `k8s:check ${args.join(' ')}: ${result.stdout}${result.stderr}`);
    assert.is(result.stdout, `k8s:check: ${render().length} objects checked in 1 directory, 0 problems found\n`);
  }
});

cli(
  'a broken copy fails: exit 1, every problem on a line of its own prefixed by the directory',
  withCopyOfK8s((copy) => {
    breakReplicas(copy);
    const result = k8sCheck('k8s', copy);
    assert.is(result.status, 1, result.stderr);
    const lines = result.stdout.trimEnd().split('\n');
    for (const svc of SERVICES) {
      assert.ok(
        lines.includes(`${copy}: Deployment/microbank-${svc}: schema: spec.replicas must be integer`),
        `${svc} is not reported, got:\n${result.stdout}`,
      );
    }
    const problems = lines.slice(0, -1);
    assert.ok(
      problems.every((line) => line.startsWith(`${copy}: `)),
      `only the copy has problems:\n${result.stdout}`,
    );
    assert.is(
      lines.at(-1),
      `k8s:check: ${2 * render().length} objects checked in 2 directories, ${problems.length} problems found`,
    );
  }),
);

cli(
  'a copy that fails to render is a problem too: exit 1',
  withCopyOfK8s((copy) => {
    rmSync(join(copy, 'base', 'redis', 'service.yaml'));
    const result = k8sCheck(copy);
    assert.is(result.status, 1, result.stderr);
    const [problem, summary, ...rest] = result.stdout.trimEnd().split('\n');
    assert.ok(problem?.startsWith(`${copy}: kubectl kustomize `), result.stdout);
    assert.match(problem ?? '', /failed: .*service\.yaml/);
    assert.is(summary, 'k8s:check: 0 objects checked in 1 directory, 1 problem found');
    assert.equal(rest, []);
  }),
);

cli('the production overlay passes with its two Secrets declared external, and fails without', () => {
  const dir = relative(repoRoot, KUSTOMIZATIONS.production);
  const external = EXTERNAL_SECRETS.flatMap((name) => ['--external-secret', name]);
  const passing = k8sCheck(dir, ...external);
  assert.is(passing.status, 0, `${passing.stdout}${passing.stderr}`);
  assert.is(
    passing.stdout,
    `k8s:check: ${render('production').length} objects checked in 1 directory, 0 problems found\n`,
  );
  // The usage shows this very command.
  assert.ok(k8sCheck('--help').stdout.includes(`pnpm k8s:check ${dir} ${external.slice(0, 2).join(' ')}`));

  const failing = k8sCheck(dir);
  assert.is(failing.status, 1, failing.stderr);
  assert.match(
    failing.stdout,
    /^k8s\/overlays\/production: Deployment\/microbank-balance: .*env REDIS_PASSWORD: Secret "microbank-redis" is not in the render$/m,
  );
  // Both overlays in one run (the dev one has its Secrets, which are then checked as usual).
  const both = k8sCheck('k8s', dir, ...external);
  assert.is(both.status, 0, both.stdout);
});

cli('bad usage exits 2 with the usage, before rendering anything', () => {
  for (const args of [
    ['--strict'],
    ['k8s', 'no-such-directory'],
    ['k8s', '--external-secret'],
    ['--external-secret', 'k8s/overlays/production'],
  ]) {
    const result = k8sCheck(...args);
    assert.is(result.status, 2, `k8s:check ${args.join(' ')}`);
    assert.match(result.stderr, /^usage: pnpm k8s:check \[--external-secret NAME \.\.\.\] \[dir \.\.\.\]/m);
    assert.is(result.stdout, '');
  }
});
cli.run();

// ---------------------------------------------------------------------------------------------
const realCluster = testSuite('k8s: a real cluster (k8s/README.md): the production overlay and pre-created Secrets');

const readme = () => readFileSync(join(k8sDir, 'README.md'), 'utf8');

realCluster('the README creates exactly the Secrets and keys the production pods read, with generated values', () => {
  const text = readme();
  const wanted = new Set<string>();
  for (const o of render('production')) {
    if (!['Deployment', 'StatefulSet'].includes(o.kind)) continue;
    for (const e of (container(o).env ?? []) as Json[]) {
      const ref = e.valueFrom?.secretKeyRef;
      if (ref) wanted.add(`${ref.name} ${ref.key}`);
    }
  }
  assert.equal([...wanted].sort(), [
    'microbank-redis password',
    'microbank-snapshot-key key',
    'microbank-transfer-clients clients',
  ]);
  for (const pair of wanted) {
    const [name, key] = pair.split(' ');
    // The clients hold a generated credential's digest, not a random value of their own.
    const value =
      name === 'microbank-transfer-clients'
        ? `="[{\\"client\\":\\"operator\\",\\"sha256\\":\\"$(printf %s "$credential" | sha256sum | cut -d' ' -f1)\\"`
        : '="$(openssl rand -hex 32)"';
    assert.ok(
      text.includes(`kubectl -n microbank create secret generic ${name} --from-literal=${key}${value}`),
      `README does not create Secret ${name} with a generated ${key}`,
    );
  }
  assert.ok(text.includes(`credential="operator.$(openssl rand -base64 32 | tr '+/' '-_' | tr -d '=')"`));
  assert.equal([...EXTERNAL_SECRETS].sort(), [...new Set([...wanted].map((p) => p.split(' ')[0]))].sort());
});

realCluster("the README's overlay outside the repo sets the image digest, and everything still checks", () => {
  const overlay = mkdtempSync(join(tmpdir(), 'microbank-real-'));
  try {
    const block = /```yaml\n(# kustomization\.yaml of your overlay[\s\S]*?)```/.exec(readme())?.[1];
    assert.ok(block, 'README has the overlay kustomization.yaml');
    const production = '../microbank/k8s/overlays/production';
    assert.ok(block.includes(production), 'the overlay names the production overlay by a relative path');
    assert.ok(block.includes('sha256:<digest>'), 'the overlay has a digest to fill in');
    const digest = `sha256:${'ab'.repeat(32)}`;
    writeFileSync(
      join(overlay, 'kustomization.yaml'),
      block.replace(production, relative(overlay, KUSTOMIZATIONS.production)).replace('sha256:<digest>', digest),
    );
    const objects = renderKustomization(overlay);
    assert.equal(checkManifests(objects, { externalSecrets: EXTERNAL_SECRETS }), []);
    assert.not.ok(objects.some((o) => o.kind === 'Secret'));
    const newName = /^\s*newName: (\S+)$/m.exec(block)?.[1];
    for (const svc of SERVICES)
      assert.is(container(get(objects, 'Deployment', `microbank-${svc}`)).image, `${newName}@${digest}`, svc);
  } finally {
    rmSync(overlay, { recursive: true, force: true });
  }
});
realCluster.run();
