/**
 * The security rules of k8s/, one test each, every one of which fails when its rule is removed: no Secret and
 * no chaos monkey in the base, no password or key literal in it, production requiring its Secrets, egress of
 * balance and transfer limited to what they need, balance asking accounts at their own Services only.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { testSuite } from '@microbank/testing';
import * as assert from 'uvu/assert';
import { type K8sObject, nameOf, selectorMatches } from './index.ts';
import {
  container,
  EXTERNAL_SECRETS,
  env,
  get,
  type Json,
  KUSTOMIZATIONS,
  k8sDir,
  type Layer,
  podLabels,
  podSpec,
  render,
  SERVICES,
} from './test-support.ts';

const OVERLAYS = ['dev', 'production'] as const satisfies readonly Layer[];
const WITH_PODS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'Job', 'CronJob']);
const workloads = (objects: K8sObject[]) => objects.filter((o) => WITH_PODS.has(o.kind)) as Json[];

/** Every file under a directory of k8s/, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

// ---------------------------------------------------------------------------------------------
const secrets = testSuite('k8s security: Secrets');

secrets('(a) the base renders no Secret and nothing of the chaos monkey; production none of the monkey either', () => {
  const base = render('base');
  assert.equal(
    base.filter((o) => o.kind === 'Secret').map(nameOf),
    [],
    'the base must not create a Secret: the overlay provides it',
  );
  const chaosKinds = new Set([
    'CronJob',
    'Job',
    'Role',
    'RoleBinding',
    'ClusterRole',
    'ClusterRoleBinding',
    'ServiceAccount',
  ]);
  for (const layer of ['base', 'production'] as const) {
    const chaos = render(layer).filter(
      (o) => chaosKinds.has(o.kind) || o.metadata.labels?.['app.kubernetes.io/name'] === 'chaos-monkey',
    );
    assert.equal(chaos.map(nameOf), [], `${layer} must not deploy the chaos monkey or any RBAC`);
  }
  // The monkey comes with the dev overlay only, and suspended.
  assert.is(get(render('dev'), 'CronJob', 'microbank-chaos-monkey').spec.suspend, true);
});

secrets('(b) no password or key literal in the base: every one comes from a secretKeyRef', () => {
  const secretLike = /PASSWORD|SECRET|TOKEN|AUTH|(^|_)KEY$/;
  const seen = { REDIS_URL: 0, SNAPSHOT_KEY: 0, REDISCLI_AUTH: 0 };
  for (const o of workloads(render('base'))) {
    for (const c of [...(podSpec(o).initContainers ?? []), ...podSpec(o).containers] as Json[]) {
      const where = `${nameOf(o as K8sObject)} (${c.name})`;
      assert.is(c.envFrom, undefined, `${where}: envFrom hides what is read`);
      const fromSecret = new Map<string, Json>();
      for (const e of (c.env ?? []) as Json[]) {
        const ref = e.valueFrom?.secretKeyRef;
        if (ref) fromSecret.set(e.name, ref);
        if (secretLike.test(e.name))
          assert.ok(ref && e.value === undefined, `${where}: env ${e.name} must come from a secretKeyRef`);
        if (e.name === 'SNAPSHOT_KEY') {
          assert.equal(ref, { name: 'microbank-snapshot-key', key: 'key' }, where);
          seen.SNAPSHOT_KEY++;
        }
        if (e.name === 'REDISCLI_AUTH') {
          assert.equal(ref, { name: 'microbank-redis', key: 'password' }, where);
          seen.REDISCLI_AUTH++;
        }
        if (e.name === 'REDIS_URL') {
          // The password of the URL is $(VAR) of a variable defined before it from the Secret: nothing else.
          const [, password] = /^redis:\/\/(?:[^:@/]*):([^@/]*)@/.exec(String(e.value)) ?? [];
          const variable = /^\$\(([A-Z_]+)\)$/.exec(password ?? '')?.[1];
          assert.ok(variable, `${where}: REDIS_URL carries no $(VAR) password: ${e.value}`);
          assert.equal(fromSecret.get(variable), { name: 'microbank-redis', key: 'password' }, where);
          seen.REDIS_URL++;
        }
      }
    }
  }
  assert.equal(seen, { REDIS_URL: SERVICES.length, SNAPSHOT_KEY: SERVICES.length, REDISCLI_AUTH: 1 });

  // And no file outside the dev overlay holds a development secret, or generates a Secret.
  const dev = KUSTOMIZATIONS.dev;
  const literals = ['dev-redis-password.txt', 'dev-snapshot-key.txt'].map((f) =>
    readFileSync(join(dev, f), 'utf8').trim(),
  );
  for (const file of filesUnder(k8sDir).filter((f) => !f.startsWith(`${dev}/`))) {
    const text = readFileSync(file, 'utf8');
    const name = relative(k8sDir, file);
    for (const literal of literals) assert.not.ok(text.includes(literal), `${name} holds a development secret`);
    if (name.endsWith('.yaml')) {
      assert.not.match(text, /^secretGenerator:/m, `${name} generates a Secret`);
      assert.not.match(text, /^kind: Secret$/m, `${name} defines a Secret`);
    }
  }
});

secrets(
  '(c) production generates no Secret: its pods read microbank-redis, microbank-snapshot-key and microbank-transfer-clients, which must exist',
  () => {
    const objects = render('production');
    assert.equal(objects.filter((o) => o.kind === 'Secret').map(nameOf), []);
    const references = new Set<string>();
    for (const o of workloads(objects)) {
      for (const c of podSpec(o).containers as Json[]) {
        for (const e of (c.env ?? []) as Json[]) {
          const ref = e.valueFrom?.secretKeyRef;
          if (!ref) continue;
          // An optional reference would start Redis without a password when the Secret is missing.
          assert.is.not(ref.optional, true, `${nameOf(o as K8sObject)}: env ${e.name} must not be optional`);
          references.add(`${ref.name}/${ref.key}`);
        }
        for (const v of (podSpec(o).volumes ?? []) as Json[]) assert.is(v.secret, undefined, nameOf(o as K8sObject));
      }
    }
    assert.equal([...references].sort(), [
      'microbank-redis/password',
      'microbank-snapshot-key/key',
      'microbank-transfer-clients/clients',
    ]);
    assert.equal([...EXTERNAL_SECRETS].sort(), [
      'microbank-redis',
      'microbank-snapshot-key',
      'microbank-transfer-clients',
    ]);
    for (const svc of SERVICES) {
      const c = container(get(objects, 'Deployment', `microbank-${svc}`));
      assert.equal(env(c, 'REDIS_PASSWORD').valueFrom.secretKeyRef, { name: 'microbank-redis', key: 'password' });
      assert.equal(env(c, 'SNAPSHOT_KEY').valueFrom.secretKeyRef, { name: 'microbank-snapshot-key', key: 'key' });
    }
    const redis = container(get(objects, 'StatefulSet', 'microbank-redis'));
    assert.equal(env(redis, 'REDISCLI_AUTH').valueFrom.secretKeyRef, { name: 'microbank-redis', key: 'password' });
  },
);
secrets.run();

// ---------------------------------------------------------------------------------------------
const egress = testSuite('k8s security: egress of balance and transfer');

/**
 * Where the NetworkPolicies let the pods of `workload` out to: every pod of the render and port a rule
 * reaches ("StatefulSet/microbank-redis 6379/TCP"), DNS in any namespace ("DNS 53/UDP"), and, as problems,
 * everything else a rule would allow: all destinations, all ports, addresses, other namespaces beyond DNS,
 * a port no selected pod has.
 */
function egressOf(objects: K8sObject[], workload: Json): { reach: string[]; problems: string[] } {
  const reach = new Set<string>();
  const problems: string[] = [];
  const namespace = workload.metadata.namespace;
  const guarding = (objects as Json[]).filter(
    (p) =>
      p.kind === 'NetworkPolicy' &&
      p.metadata.namespace === namespace &&
      selectorMatches(p.spec.podSelector, podLabels(workload)) &&
      (p.spec.policyTypes ?? []).includes('Egress'),
  );
  if (guarding.length === 0) problems.push('no NetworkPolicy guards its egress: it may connect anywhere');
  for (const policy of guarding) {
    for (const [i, rule] of ((policy.spec.egress ?? []) as Json[]).entries()) {
      const where = `${policy.metadata.name} egress[${i}]`;
      const ports = (rule.ports ?? []) as Json[];
      const peers = (rule.to ?? []) as Json[];
      if (ports.length === 0) problems.push(`${where}: no ports, so every port`);
      if (peers.length === 0) problems.push(`${where}: no "to", so every destination`);
      for (const peer of peers) {
        if (peer.ipBlock !== undefined) {
          problems.push(`${where}: ipBlock ${JSON.stringify(peer.ipBlock)}`);
        } else if (peer.namespaceSelector !== undefined) {
          for (const port of ports) {
            if (port.port === 53 && port.endPort === undefined) reach.add(`DNS 53/${port.protocol ?? 'TCP'}`);
            else problems.push(`${where}: other namespaces on port ${port.port}, not only DNS`);
          }
        } else {
          const selected = workloads(objects).filter(
            (t) => t.metadata.namespace === namespace && selectorMatches(peer.podSelector ?? {}, podLabels(t)),
          );
          for (const port of ports) {
            const protocol = port.protocol ?? 'TCP';
            let hits = 0;
            for (const t of selected) {
              for (const c of podSpec(t).containers as Json[]) {
                for (const p of (c.ports ?? []) as Json[]) {
                  if ((p.protocol ?? 'TCP') !== protocol || (p.containerPort !== port.port && p.name !== port.port))
                    continue;
                  reach.add(`${nameOf(t as K8sObject)} ${p.containerPort}/${protocol}`);
                  hits++;
                }
              }
            }
            if (hits === 0) problems.push(`${where}: port ${port.port} to ${JSON.stringify(peer)} reaches no pod`);
          }
        }
      }
    }
  }
  return { reach: [...reach].sort(), problems };
}

/** The account Deployments of a render: those that run as an account (ACCOUNT_NAME). */
const accounts = (objects: K8sObject[]) =>
  workloads(objects).filter((o) => (container(o).env ?? []).some((e: Json) => e.name === 'ACCOUNT_NAME'));

egress('(d) balance may reach Redis, DNS and every account pod on its container port 8080, nothing else', () => {
  for (const layer of OVERLAYS) {
    const objects = render(layer);
    const accountPods = accounts(objects);
    assert.equal(
      accountPods.map((o) => o.metadata.name),
      ['microbank-john-account', 'microbank-mary-account'],
    );
    for (const account of accountPods) {
      const http = container(account).ports.find((p: Json) => p.name === 'http');
      assert.is(http.containerPort, 8080, `${account.metadata.name} serves on 8080, the port the policy names`);
    }
    const { reach, problems } = egressOf(objects, get(objects, 'Deployment', 'microbank-balance'));
    assert.equal(problems, [], layer);
    assert.equal(
      reach,
      [
        'DNS 53/TCP',
        'DNS 53/UDP',
        ...accountPods.map((o) => `Deployment/${o.metadata.name} 8080/TCP`),
        'StatefulSet/microbank-redis 6379/TCP',
      ].sort(),
      layer,
    );
  }
});

egress('(d) transfer may reach Redis and DNS, nothing else (the saga never calls another service)', () => {
  for (const layer of OVERLAYS) {
    const objects = render(layer);
    const { reach, problems } = egressOf(objects, get(objects, 'Deployment', 'microbank-transfer'));
    assert.equal(problems, [], layer);
    assert.equal(reach, ['DNS 53/TCP', 'DNS 53/UDP', 'StatefulSet/microbank-redis 6379/TCP'], layer);
  }
});

egress('(d) the account label balance is let out to is on account pods only, and in no selector', () => {
  for (const layer of OVERLAYS) {
    const objects = render(layer);
    const labelled = workloads(objects)
      .filter((o) => podLabels(o)['microbank.io/account'] === 'true')
      .map((o) => o.metadata.name);
    assert.equal(
      labelled,
      accounts(objects).map((o) => o.metadata.name),
      layer,
    );
    for (const o of workloads(objects))
      assert.is(
        o.spec.selector?.matchLabels?.['microbank.io/account'],
        undefined,
        `${layer}: ${nameOf(o as K8sObject)}`,
      );
  }
});
egress.run();

// ---------------------------------------------------------------------------------------------
const accountUrls = testSuite('k8s security: balance asks accounts at their own Services only');

accountUrls(
  '(e) ACCOUNT_URL_PATTERN on balance is http://microbank-{account}, and every account registers such a URL',
  () => {
    for (const layer of ['base', ...OVERLAYS] as const) {
      const objects = render(layer);
      const pattern = env(container(get(objects, 'Deployment', 'microbank-balance')), 'ACCOUNT_URL_PATTERN').value;
      assert.is(pattern, 'http://microbank-{account}', layer);
      for (const account of accounts(objects)) {
        const c = container(account);
        const url = env(c, 'ACCOUNT_URL').value;
        assert.is(
          url,
          pattern.replace('{account}', env(c, 'ACCOUNT_NAME').value),
          `${layer}: ${account.metadata.name}`,
        );
        // ... which is the account's own Service, in front of the pods balance may reach.
        const service = get(objects, 'Service', new URL(url).hostname);
        assert.ok(selectorMatches({ matchLabels: service.spec.selector }, podLabels(account)), url);
      }
    }
  },
);
accountUrls.run();

// ---------------------------------------------------------------------------------------------
const redisImage = testSuite('k8s security: a Redis without known critical CVEs');

/** The first 7.2 release with CVE-2025-49844 and CVE-2025-46817/46818/46819 fixed. */
const PATCHED_7_2 = [7, 2, 11];

redisImage('every overlay runs Redis 7.2.11 or a later release', () => {
  for (const layer of ['base', ...OVERLAYS] as const) {
    const images = workloads(render(layer))
      .flatMap((workload) => podSpec(workload).containers as Json[])
      .map((c) => String(c.image))
      .filter((image) => /^(docker\.io\/)?(library\/)?redis[:@]/.test(image));
    assert.ok(images.length > 0, `${layer} runs a Redis`);
    for (const image of images) {
      const version = /^[^:]+:(\d+)\.(\d+)\.(\d+)/.exec(image)?.slice(1).map(Number);
      assert.ok(version, `${layer}: ${image} is pinned to a release`);
      const [major = 0, minor = 0, patch = 0] = version;
      const [pMajor, pMinor, pPatch] = PATCHED_7_2 as [number, number, number];
      const patched = major > pMajor || (major === pMajor && (minor > pMinor || (minor === pMinor && patch >= pPatch)));
      assert.ok(patched, `${layer}: ${image} predates the fixes of 7.2.11`);
    }
  }
});

redisImage.run();
