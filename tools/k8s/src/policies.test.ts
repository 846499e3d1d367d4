/** Every check, broken once on purpose: a small valid fixture render with one field changed must be reported. */
import { testSuite } from '@microbank/testing';
import * as assert from 'uvu/assert';
import { type CheckOptions, checkManifests, type K8sObject, type Production } from './index.ts';

// biome-ignore lint/suspicious/noExplicitAny: fixture objects are built and edited freely by path
type Json = Record<string, any>;
const KEYS = ['part-of', 'instance', 'version', 'managed-by', 'name', 'component'];
const labels = (name: string) =>
  Object.fromEntries(KEYS.map((k) => [`app.kubernetes.io/${k}`, k === 'name' ? name : 'x']));
const meta = (name: string) => ({ name, namespace: 'ns', labels: labels(name) });
const pick = (name: string) => ({ 'app.kubernetes.io/name': name });
/** What the restricted Pod Security Standard asks of a container besides non-root and a read-only root. */
const RESTRICTED = { capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' } };
const container = (name: string, image: string, port: number, more: Json = {}) => ({
  name,
  image,
  ports: [{ name: 'http', containerPort: port }],
  resources: { requests: { cpu: '10m', memory: '64Mi' }, limits: { memory: '64Mi' } },
  securityContext: { runAsNonRoot: true, allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, ...RESTRICTED },
  readinessProbe: { tcpSocket: { port: 'http' } },
  livenessProbe: { tcpSocket: { port: 'http' } },
  ...more,
});
const obj = (api: string, kind: string, name: string, more: Json = {}) => ({
  apiVersion: api,
  kind,
  metadata: meta(name),
  ...more,
});
const workload = (kind: string, name: string, pod: Json, spec: Json = {}) =>
  obj('apps/v1', kind, name, {
    spec: {
      selector: { matchLabels: pick(name) },
      template: { metadata: { labels: labels(name) }, spec: { automountServiceAccountToken: false, ...pod } },
      ...spec,
    },
  });
const policy = (name: string, spec: Json) =>
  obj('networking.k8s.io/v1', 'NetworkPolicy', name, { spec: { podSelector: { matchLabels: pick(name) }, ...spec } });
const RBAC = 'rbac.authorization.k8s.io/v1';
/** Redis's configuration, durable and half its memory limit; a line added last overrides one. */
const conf = (line = '') => `dir /data\nappendonly yes\nappendfsync always\nmaxmemory 32mb\n${line}`;
const SHA = `@sha256:${'0'.repeat(64)}`;
const RETAIN = { whenDeleted: 'Retain', whenScaled: 'Retain' };
/** The checks, with the fixture's namespace ns created apart (as k8s/namespace is). */
const check = (objects: unknown[], options: CheckOptions = {}) =>
  checkManifests(objects, { namespaces: ['ns'], ...options });
const env = [
  { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } },
  { name: 'DB_URL', value: 'redis://:$(DB_PASSWORD)@db:6379' },
  { name: 'SHUTDOWN_DELAY_MS', value: '2000' },
  { name: 'SHUTDOWN_DRAIN_MS', value: '1000' },
];

/**
 * A small render that passes every check (in namespace ns, created apart): an app Deployment reading a Secret and reaching a Redis
 * StatefulSet (with a ConfigMap volume and a claim template) through its Service, NetworkPolicies both ways, RBAC.
 */
function fixture(): K8sObject[] {
  const resources = { requests: { storage: '1Gi' } };
  const claim = { metadata: { name: 'data' }, spec: { accessModes: ['ReadWriteOnce'], resources } };
  const mounts = ['conf', 'data'].map((name) => ({ name, mountPath: `/${name}` }));
  const volumes = [{ name: 'conf', configMap: { name: 'conf' } }];
  const db = { volumes, containers: [container('db', `redis:7.2.11${SHA}`, 6379, { volumeMounts: mounts })] };
  const peer = (name: string) => [{ podSelector: { matchLabels: pick(name) } }];
  return structuredClone([
    obj('v1', 'Secret', 'db', { data: { password: 'cGFzcw==' } }),
    obj('v1', 'ConfigMap', 'conf', { data: { conf: conf() } }),
    workload('Deployment', 'app', { containers: [container('app', `app:1.0${SHA}`, 8080, { env })] }, { replicas: 2 }),
    workload('StatefulSet', 'db', db, {
      serviceName: 'db',
      volumeClaimTemplates: [claim],
      persistentVolumeClaimRetentionPolicy: RETAIN,
    }),
    obj('v1', 'Service', 'app', { spec: { selector: pick('app'), ports: [{ port: 80, targetPort: 'http' }] } }),
    obj('v1', 'Service', 'db', { spec: { selector: pick('db'), ports: [{ port: 6379, targetPort: 'http' }] } }),
    policy('db', { policyTypes: ['Ingress'], ingress: [{ from: peer('app'), ports: [{ port: 6379 }] }] }),
    policy('app', {
      policyTypes: ['Egress'],
      egress: [
        { to: peer('db'), ports: [{ port: 6379 }] },
        { to: [{ namespaceSelector: {} }], ports: [{ port: 53, protocol: 'UDP' }] },
      ],
    }),
    // The default deny: both ways, for every pod; the policies above let through what is needed.
    {
      ...policy('deny', { policyTypes: ['Ingress', 'Egress'] }),
      spec: { podSelector: {}, policyTypes: ['Ingress', 'Egress'] },
    },
    obj('v1', 'ServiceAccount', 'ops'),
    obj(RBAC, 'Role', 'ops', { rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['list'] }] }),
    obj(RBAC, 'RoleBinding', 'ops', {
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'ops' },
      subjects: [{ kind: 'ServiceAccount', name: 'ops', namespace: 'ns' }],
    }),
    obj('policy/v1', 'PodDisruptionBudget', 'app', { spec: { selector: { matchLabels: pick('app') } } }),
  ]) as K8sObject[];
}

/** Deletes the field instead of setting it. */
const DROP = Symbol('drop');
const TARGETS: Record<string, string> = { app: 'Deployment/app', db: 'StatefulSet/db', svc: 'Service/app' };
/** Path shorthands: the pod spec, the first container, its env. */
const [P, C] = ['spec.template.spec', 'spec.template.spec.containers.0'];
const PREFIXES: Record<string, string> = { P, C, E: `${C}.env` };
type Edit = [what: string, expected: RegExp, target: string, path: string, value: unknown, production?: Production];
/** Production's policies, Redis allowed by tag. */
const PROD: Production = { tagPinned: ['redis'] };

/** The fixture with one edit: the object (`Kind/name` or a TARGETS key), a dotted path in it, the new value. */
function broken(target: string, path: string, value: unknown): K8sObject[] {
  const objects = fixture();
  // biome-ignore lint/suspicious/noExplicitAny: walking a fixture by path
  let node: any = objects.find((o) => `${o.kind}/${o.metadata.name}` === (TARGETS[target] ?? target));
  const keys = path.replace(/^[PCE]\b/, (p) => PREFIXES[p] as string).split('.');
  for (const key of keys.slice(0, -1)) node = node[key];
  if (value === DROP) delete node[keys.at(-1) as string];
  else node[keys.at(-1) as string] = value;
  return objects;
}
const url = (host: string): unknown => `redis://:$(DB_PASSWORD)@${host}`;
const NODE_LOCAL = { ipBlock: { cidr: '169.254.20.10/32' } };
/** An egress rule to any address on the Kubernetes API's ports: only a pod with a token may have one. */
const API = {
  ports: [
    { port: 443, protocol: 'TCP' },
    { port: 6443, protocol: 'TCP' },
  ],
};
const none = { matchLabels: { a: 'b' } };

// biome-ignore format: one line per case
const cases: Edit[] = [
  ['an object without a name', /document 4 \(Service\): metadata\.name is required/, 'svc', 'metadata.name', ''],
  ['a wrong type', /Deployment\/app: schema: spec\.replicas must be integer/, 'app', 'spec.replicas', 'two'],
  ['a value outside an enum', /imagePullPolicy must be equal to one of the allowed values/, 'app', 'C.imagePullPolicy', 'x'],
  ['a malformed quantity', /limits\.memory must match format "quantity"/, 'app', 'C.resources.limits.memory', '64 MB'],
  ['a missing required field', /Service\/app: schema: spec\.ports\.0 must have required property/, 'svc', 'spec.ports.0.port', DROP],
  ['Secret data not base64', /Secret\/db: schema: data\.password must match format "byte"/, 'Secret/db', 'data.password', '!'],
  ['a kind its apiVersion lacks', /no schema for apiVersion apps\/v9 kind Deployment/, 'app', 'apiVersion', 'apps/v9'],
  ['an unknown field', /containers\[0\]\.imagePullPolicyy: unknown field/, 'app', 'C.imagePullPolicyy', 'Always'],
  ['an object without a namespace', /Service\/app: metadata\.namespace is not set/, 'svc', 'metadata.namespace', DROP],
  ['a namespace not rendered', /Service\/app: namespace "x" is neither rendered nor created apart/, 'svc', 'metadata.namespace', 'x'],
  ['claims dropped when their StatefulSet is deleted', /StatefulSet\/db: persistentVolumeClaimRetentionPolicy must be Retain/, 'db', 'spec.persistentVolumeClaimRetentionPolicy.whenDeleted', 'Delete'],
  ['claims dropped when scaled down', /StatefulSet\/db: persistentVolumeClaimRetentionPolicy must be Retain/, 'db', 'spec.persistentVolumeClaimRetentionPolicy', DROP],
  ['a selector missing its own pods', /Deployment\/app: spec\.selector .* does not match its own pod/, 'app', 'spec.selector', none],
  ['a restartPolicy other than Always', /restartPolicy must be Always, not OnFailure/, 'app', 'P.restartPolicy', 'OnFailure'],
  ['a serviceName not rendered', /spec\.serviceName "x" is not a Service/, 'db', 'spec.serviceName', 'x'],
  ['a Service with an empty selector', /Service\/app: spec\.selector is empty/, 'svc', 'spec.selector', {}],
  ['a Service selecting no pod', /Service\/app: spec\.selector .* matches no pod template/, 'svc', 'spec.selector', { a: 'b' }],
  ['a targetPort no container has', /targetPort 81 is no container port of Deployment\/app/, 'svc', 'spec.ports.0.targetPort', 81],
  ['a NetworkPolicy selecting no pod', /NetworkPolicy\/db: spec\.podSelector .* selects no pod/, 'NetworkPolicy/db', 'spec.podSelector', none],
  ['a URL to no Service', /env DB_URL: host "x" is not a Service in the render/, 'app', 'E.1.value', url('x:6379')],
  ['a URL to a port the Service lacks', /env DB_URL: Service "db" has no port 6380/, 'app', 'E.1.value', url('db:6380')],
  ['an ingress rule shutting a client out', /no NetworkPolicy rule admits it to StatefulSet\/db/, 'NetworkPolicy/db', 'spec.ingress.0.ports.0.port', 1],
  ['an egress rule keeping a client in', /no NetworkPolicy rule lets it out to StatefulSet\/db/, 'NetworkPolicy/app', 'spec.egress.0.to.0.podSelector', none],
  ['a roleRef to no Role', /roleRef Role "x" is not in the render/, 'RoleBinding/ops', 'roleRef.name', 'x'],
  ['a subject that is no ServiceAccount', /subjects\[0\]: ServiceAccount "x" in namespace "ns"/, 'RoleBinding/ops', 'subjects.0.name', 'x'],
  ['a serviceAccountName not rendered', /serviceAccountName "x" is not in the render/, 'app', 'P.serviceAccountName', 'x'],
  ['a token on the default ServiceAccount', /automountServiceAccountToken must be false/, 'app', 'P.automountServiceAccountToken', DROP],
  ['a ConfigMap volume not rendered', /volumes\[0\]: ConfigMap "x" is not in the render/, 'db', 'P.volumes.0.configMap.name', 'x'],
  ['a claim not rendered', /PersistentVolumeClaim "x" is not in the render/, 'db', 'P.volumes.0', { name: 'conf', persistentVolumeClaim: { claimName: 'x' } }],
  ['an unpinned image', /image "redis" needs a pinned tag/, 'db', 'P.containers.0.image', 'redis'],
  ['an image at latest', /image "app:latest" needs a pinned tag/, 'app', 'C.image', 'app:latest'],
  ['no cpu request', /resources\.requests\.cpu is not set/, 'app', 'C.resources.requests.cpu', DROP],
  ['no memory limit', /resources\.limits\.memory is not set/, 'app', 'C.resources.limits', {}],
  ['runAsNonRoot unset', /runAsNonRoot must be true/, 'app', 'C.securityContext.runAsNonRoot', DROP],
  ['runAsUser 0', /runAsUser is 0 \(root\)/, 'app', 'C.securityContext.runAsUser', 0],
  ['a privileged container', /privileged must not be true/, 'app', 'C.securityContext.privileged', true],
  ['privilege escalation', /allowPrivilegeEscalation must be false/, 'app', 'C.securityContext.allowPrivilegeEscalation', true],
  ['a writable root filesystem', /readOnlyRootFilesystem must be true/, 'app', 'C.securityContext.readOnlyRootFilesystem', false],
  ['capabilities kept', /capabilities\.drop must include ALL/, 'app', 'C.securityContext.capabilities', { drop: ['NET_RAW'] }],
  ['no seccomp profile', /seccompProfile\.type must be RuntimeDefault/, 'app', 'C.securityContext.seccompProfile', DROP],
  ['no liveness probe', /livenessProbe is missing/, 'app', 'C.livenessProbe', DROP],
  ['a probe on a port the container lacks', /readinessProbe\.tcpSocket\.port x is not a port/, 'app', 'C.readinessProbe.tcpSocket.port', 'x'],
  ['a volumeMount naming no volume', /volumeMount "conf" names no volume of the pod/, 'db', 'P.volumes', []],
  ['$(VAR) before it is defined', /env DB_URL uses \$\(SHUTDOWN_DRAIN_MS\), which is not defined/, 'app', 'E.1.value', '$(SHUTDOWN_DRAIN_MS)'],
  ['a Secret not rendered', /env DB_PASSWORD: Secret "x" is not in the render/, 'app', 'E.0.valueFrom.secretKeyRef.name', 'x'],
  ['a Secret key that does not exist', /env DB_PASSWORD: Secret "db" has no key "x"/, 'app', 'E.0.valueFrom.secretKeyRef.key', 'x'],
  ['a password literal', /env DB_PASSWORD must come from a secretKeyRef/, 'app', 'E.0', { name: 'DB_PASSWORD', value: 'x' }],
  ['envFrom', /envFrom hides what is read/, 'app', 'C.envFrom', [{ secretRef: { name: 'db' } }]],
  ['an optional secretKeyRef', /a secretKeyRef must not be optional/, 'app', 'E.0.valueFrom.secretKeyRef.optional', true],
  ['a password in argv', /a password flag in argv: redis-cli -a x ping/, 'app', 'C.command', ['redis-cli', '-a', 'x', 'ping']],
  ['a privileged port', /containerPort 80 is privileged/, 'app', 'C.ports.0.containerPort', 80],
  ['a Redis before 7.2.11', /image redis:7\.2\.10 is not a Redis release of 7\.2\.11 or later/, 'db', 'P.containers.0.image', 'redis:7.2.10'],
  ['a recommended label missing', /Service\/app: label app\.kubernetes\.io\/component is not set/, 'svc', 'metadata.labels', {}],
  ['pod labels not the owner\'s', /the pod template's label app\.kubernetes\.io\/version differs/, 'app', 'spec.template.metadata', { labels: { 'app.kubernetes.io/name': 'app' } }],
  ['a version label in a selector', /Service\/app: selector .* holds a version/, 'svc', 'spec.selector', { 'app.kubernetes.io/version': '1' }],
  ['an egress rule with no ports', /egress\[0\]: no ports, so every port/, 'NetworkPolicy/app', 'spec.egress.0.ports', DROP],
  ['an egress rule to anywhere', /egress\[0\]: no "to", so every destination/, 'NetworkPolicy/app', 'spec.egress.0.to', DROP],
  ['an egress rule to an ipBlock', /egress\[0\]: ipBlock/, 'NetworkPolicy/app', 'spec.egress.0.to.0', { ipBlock: { cidr: '0.0.0.0/0' } }],
  ['a pod whose ingress nothing guards', /Deployment\/app: no NetworkPolicy guards its ingress/, 'NetworkPolicy/deny', 'spec.policyTypes', ['Egress']],
  ['a pod whose egress nothing guards', /StatefulSet\/db: no NetworkPolicy guards its egress/, 'NetworkPolicy/deny', 'spec.policyTypes', ['Ingress']],
  ['node-local DNS on a port other than 53', /egress\[0\]: ipBlock \{"cidr":"169\.254\.20\.10\/32"\}/, 'NetworkPolicy/app', 'spec.egress.0.to.0', NODE_LOCAL],
  ['another ipBlock on port 53', /egress\[1\]: ipBlock \{"cidr":"169\.254\.20\.10\/24"\}/, 'NetworkPolicy/app', 'spec.egress.1.to.0', { ipBlock: { cidr: '169.254.20.10/24' } }],
  ['the API server\'s ports, anywhere, for a pod with no token', /egress\[0\]: no "to", so every destination/, 'NetworkPolicy/app', 'spec.egress.0', API],
  ['egress to other namespaces beyond DNS', /egress\[1\]: other namespaces on a port other than DNS/, 'NetworkPolicy/app', 'spec.egress.1.ports.0.port', 443],
  ['a shutdown pause too short', /SHUTDOWN_DELAY_MS 500 is too short/, 'app', 'E.2.value', '500'],
  ['a shutdown beyond the grace period', /2000 \+ 1000 \+ 10000 ms exceeds the grace period 10000 ms/, 'app', 'P.terminationGracePeriodSeconds', 10],
  ['a password literal in a URL', /env DB_URL: a URL's password must be \$\(VAR\) of a secretKeyRef/, 'app', 'E.1.value', 'redis://u:pw@db:6379'],
  ['a Redis URL without a password', /env DB_URL: a URL's password must be/, 'app', 'E.1.value', 'redis://db:6379'],
  ['Redis fsync once a second', /StatefulSet\/db: container db: Redis appendfsync must be always, not always, everysec/, 'ConfigMap/conf', 'data.conf', conf('appendfsync everysec')],
  ['Redis without its AOF', /Redis appendonly must be yes, not yes, no/, 'ConfigMap/conf', 'data.conf', conf('appendonly no')],
  ['Redis writing off its claim', /Redis dir must be \/data, not \/data, \/conf/, 'ConfigMap/conf', 'data.conf', conf('dir /conf')],
  ['a Redis Cluster node writing without a replica', /Redis Cluster min-replicas-to-write must be 1 or more, not 0/, 'ConfigMap/conf', 'data.conf', conf('cluster-enabled yes\nmin-replicas-to-write 0')],
  ['a Redis Cluster node that never asks for a replica', /Redis Cluster min-replicas-to-write must be 1 or more, not $/, 'ConfigMap/conf', 'data.conf', conf('cluster-enabled yes')],
  ['a literal password in a seed of a list', /env DB_URL: a URL's password must be/, 'app', 'E.1.value', 'redis://:$(DB_PASSWORD)@db:6379,redis://:pw@db:6379'],
  ['a seed naming no pod of the StatefulSet', /env DB_URL: "db-1\.db" is no pod of a StatefulSet governed by Service "db"/, 'app', 'E.1.value', 'redis://:$(DB_PASSWORD)@db-0.db:6379,redis://:$(DB_PASSWORD)@db-1.db:6379'],
  ['Redis maxmemory at its limit', /Redis maxmemory 64mb is not about half its limit 64Mi/, 'ConfigMap/conf', 'data.conf', conf('maxmemory 64mb')],
  ['redis-server behind a shell', /redis-server is not exec'd: sh -c redis-server/, 'db', 'P.containers.0.command', ['sh', '-c', 'redis-server /conf/conf']],
  ['an account of two pods', /Deployment\/app: an account is a single writer: 2 replicas/, 'app', 'E.2.name', 'ACCOUNT_NAME'],
  ['an account rolled out beside its old pod', /an account is a single writer: strategy must be Recreate/, 'app', 'E.2.name', 'ACCOUNT_NAME'],
  ['a URL password from no Secret', /env DB_URL: a URL's password must be/, 'app', 'E.1.value', 'redis://:$(SHUTDOWN_DELAY_MS)@db:6379'],
  ['Redis on a node port', /Service\/db: type NodePort exposes StatefulSet\/db outside the cluster/, 'Service/db', 'spec.type', 'NodePort'],
  ['Redis behind a load balancer', /Service\/app: type LoadBalancer exposes StatefulSet\/db/, 'svc', 'spec', { type: 'LoadBalancer', selector: pick('db'), ports: [{ port: 1 }] }],
  ['production: an image by tag', /image app:1\.0 is not pinned by digest/, 'app', 'C.image', 'app:1.0', PROD],
  ['production: replicas without a budget', /Deployment\/app: 2 replicas and no PodDisruptionBudget/, 'PodDisruptionBudget/app', 'spec.selector', none, PROD],
  ['a preStop hook besides the pause', /a preStop hook doubles the pause/, 'app', 'C.lifecycle', { preStop: { exec: { command: ['true'] } } }],
];

const policies = testSuite('k8s: every check, broken once on a small fixture');
function assertReported(problems: string[], expected: RegExp) {
  const got = problems.join('\n  ') || '(none)';
  const hit = problems.some((p) => expected.test(p));
  assert.ok(hit, `expected ${expected}, got:\n  ${got}`);
}

policies("the fixture passes every check, production's too", () =>
  assert.equal([...check(fixture()), ...check(fixture(), { production: PROD })], []),
);
for (const [what, expected, target, path, value, production] of cases) {
  policies(`${what} is reported`, () => assertReported(check(broken(target, path, value), { production }), expected));
}
policies("production's policies only when asked; an image by tag only when named", () => {
  const tagged = broken('db', 'P.containers.0.image', 'redis:7.2.11');
  assert.equal([...check(tagged), ...check(tagged, { production: PROD })], []);
  assertReported(check(tagged, { production: {} }), /image redis:7\.2\.11 is not/);
});
policies('a document that is no object, and one defined twice, are reported', () => {
  const objects = fixture();
  assertReported(check([...objects, {}]), /document 13: not a Kubernetes object/);
  assertReported(check([...objects, objects[4]]), /Service\/app: defined twice/);
});
policies('a Secret declared external is not reported missing; any other still is', () => {
  const objects = broken('app', 'E.0.valueFrom.secretKeyRef.name', 'vault');
  assert.equal(check(objects, { externalSecrets: ['vault'] }), []);
  assertReported(check(objects, { externalSecrets: ['x'] }), /Secret "vault" is not in the render/);
});
policies('node-local DNS by ipBlock on 53, and the API server anywhere for a pod with a token, pass', () => {
  const dns = broken('NetworkPolicy/app', 'spec.egress.1.to.1', NODE_LOCAL);
  assert.equal(check(dns), []);
  const api = broken('NetworkPolicy/app', 'spec.egress.2', API);
  const app = api.find((o) => o.kind === 'Deployment') as Json;
  Object.assign(app.spec.template.spec, { serviceAccountName: 'ops', automountServiceAccountToken: true });
  assert.equal(check(api), []);
});
policies(
  'Redis Cluster seeds by pod name pass; a Job running redis-cli is no Redis server, and has no version label',
  () => {
    const seeds = broken(
      'app',
      'E.1.value',
      'redis://:$(DB_PASSWORD)@db-0.db:6379,redis://:$(DB_PASSWORD)@db-0.db:6379',
    );
    assert.equal(check(seeds), []);
    const pod = { automountServiceAccountToken: false, restartPolicy: 'Never' };
    const cli = { ...container('cli', `redis:7.2.11${SHA}`, 8081), command: ['sh', '/scripts/bootstrap.sh'] };
    const job = obj('batch/v1', 'Job', 'bootstrap', {
      spec: { template: { metadata: { labels: labels('bootstrap') }, spec: { ...pod, containers: [cli] } } },
    }) as Json;
    delete job.spec.template.metadata.labels['app.kubernetes.io/version'];
    const deny = { policyTypes: ['Ingress', 'Egress'] };
    const guarded = [
      ...fixture(),
      job,
      { ...policy('bootstrap', deny), spec: { podSelector: { matchLabels: pick('bootstrap') }, ...deny } },
    ];
    assert.equal(check(guarded), []);
    job.spec.template.metadata.labels['app.kubernetes.io/version'] = 'x';
    assertReported(
      check(guarded),
      /Job\/bootstrap: the pod template's label app\.kubernetes\.io\/version is set on a Job/,
    );
  },
);
policies('deleting a render never deletes a claim: a Namespace beside claims, a claim object, are reported', () => {
  const namespace = { ...obj('v1', 'Namespace', 'ns'), metadata: { name: 'ns', labels: labels('ns') } };
  assert.equal(checkManifests([namespace]), []);
  const beside = /Namespace\/ns: deleting this render deletes the namespace, and with it the claims of StatefulSet\/db/;
  assertReported(checkManifests([namespace, ...fixture()]), beside);
  const claim = obj('v1', 'PersistentVolumeClaim', 'data', { spec: { accessModes: ['ReadWriteOnce'] } });
  assertReported(check([...fixture(), claim]), /PersistentVolumeClaim\/data: deleting this render deletes the claim/);
});
policies.run();
