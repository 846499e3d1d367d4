/** What the tests share: the kustomizations of k8s/ and their renders (once each), and a small valid fixture render. */
import { join } from 'node:path';
import { REPO_ROOT } from '@microbank/testing';
import type { K8sObject } from './k8s-object.ts';
import { renderKustomization } from './render.ts';

/** The manifests (kustomize), at the repository's root; this package only checks them. */
export const k8sDir = join(REPO_ROOT, 'k8s');
/** The kustomizations of k8s/: the root (what `kubectl apply -k k8s` deploys) and the layers under it. */
export const KUSTOMIZATIONS = {
  root: k8sDir,
  base: join(k8sDir, 'base'),
  dev: join(k8sDir, 'overlays', 'dev'),
  production: join(k8sDir, 'overlays', 'production'),
} as const;
export type Layer = keyof typeof KUSTOMIZATIONS;
/** The Secrets the base references and only the dev overlay generates: production requires them to exist. */
export const EXTERNAL_SECRETS = ['microbank-redis', 'microbank-snapshot-key', 'microbank-transfer-clients'] as const;

const cache = new Map<string, K8sObject[]>();
/** The render of one kustomization of k8s/ (default: the root), once per run; each caller gets a deep copy. */
export function render(layer: Layer = 'root'): K8sObject[] {
  const dir = KUSTOMIZATIONS[layer];
  if (!cache.has(dir)) cache.set(dir, renderKustomization(dir));
  return structuredClone(cache.get(dir) as K8sObject[]);
}

// biome-ignore lint/suspicious/noExplicitAny: fixture objects are built and edited freely by path
type Json = Record<string, any>;
const labels = (name: string) => ({
  'app.kubernetes.io/part-of': 'bank',
  'app.kubernetes.io/instance': 'bank',
  'app.kubernetes.io/version': '1',
  'app.kubernetes.io/managed-by': 'test',
  'app.kubernetes.io/name': name,
  'app.kubernetes.io/component': 'part',
});
const meta = (name: string) => ({ name, namespace: 'ns', labels: labels(name) });
const pick = (name: string) => ({ 'app.kubernetes.io/name': name });
const container = (name: string, image: string, port: number, more: Json = {}) => ({
  name,
  image,
  ports: [{ name: 'http', containerPort: port }],
  resources: { requests: { cpu: '10m', memory: '64Mi' }, limits: { memory: '64Mi' } },
  securityContext: {
    runAsNonRoot: true,
    allowPrivilegeEscalation: false,
    readOnlyRootFilesystem: true,
    capabilities: { drop: ['ALL'] },
    seccompProfile: { type: 'RuntimeDefault' },
  },
  readinessProbe: { tcpSocket: { port: 'http' } },
  livenessProbe: { tcpSocket: { port: 'http' } },
  ...more,
});
const workload = (kind: string, name: string, pod: Json, spec: Json = {}) => ({
  apiVersion: 'apps/v1',
  kind,
  metadata: meta(name),
  spec: {
    selector: { matchLabels: pick(name) },
    template: { metadata: { labels: labels(name) }, spec: { automountServiceAccountToken: false, ...pod } },
    ...spec,
  },
});
const v1 = (kind: string, name: string, more: Json) => ({ apiVersion: 'v1', kind, metadata: meta(name), ...more });
const policy = (name: string, spec: Json) => ({
  apiVersion: 'networking.k8s.io/v1',
  kind: 'NetworkPolicy',
  metadata: meta(name),
  spec: { podSelector: { matchLabels: pick(name) }, ...spec },
});
const rbac = (kind: string, more: Json) => ({
  apiVersion: 'rbac.authorization.k8s.io/v1',
  kind,
  metadata: meta('ops'),
  ...more,
});
const env = [
  { name: 'DB_PASSWORD', valueFrom: { secretKeyRef: { name: 'db', key: 'password' } } },
  { name: 'DB_URL', value: 'redis://:$(DB_PASSWORD)@db:6379' },
  { name: 'SHUTDOWN_DELAY_MS', value: '2000' },
  { name: 'SHUTDOWN_DRAIN_MS', value: '1000' },
];

/**
 * A small render that passes every check: a Namespace, an app Deployment reading a Secret and reaching a Redis
 * StatefulSet (with a ConfigMap volume and a claim template) through its Service, NetworkPolicies both ways, RBAC.
 */
export function fixture(): K8sObject[] {
  const claim = {
    metadata: { name: 'data' },
    spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
  };
  const mounts = [
    { name: 'conf', mountPath: '/conf' },
    { name: 'data', mountPath: '/data' },
  ];
  return structuredClone([
    { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'ns', labels: labels('ns') } },
    v1('Secret', 'db', { data: { password: 'cGFzcw==' } }),
    v1('ConfigMap', 'conf', { data: { 'redis.conf': 'dir /data' } }),
    workload('Deployment', 'app', { containers: [container('app', 'app:1.0', 8080, { env })] }),
    workload(
      'StatefulSet',
      'db',
      {
        volumes: [{ name: 'conf', configMap: { name: 'conf' } }],
        containers: [container('db', 'redis:7.2.11', 6379, { volumeMounts: mounts })],
      },
      { serviceName: 'db', volumeClaimTemplates: [claim] },
    ),
    v1('Service', 'app', { spec: { selector: pick('app'), ports: [{ port: 80, targetPort: 'http' }] } }),
    v1('Service', 'db', { spec: { selector: pick('db'), ports: [{ port: 6379, targetPort: 'http' }] } }),
    policy('db', {
      policyTypes: ['Ingress'],
      ingress: [{ from: [{ podSelector: { matchLabels: pick('app') } }], ports: [{ port: 6379 }] }],
    }),
    policy('app', {
      policyTypes: ['Egress'],
      egress: [
        { to: [{ podSelector: { matchLabels: pick('db') } }], ports: [{ port: 6379 }] },
        { to: [{ namespaceSelector: {} }], ports: [{ port: 53, protocol: 'UDP' }] },
      ],
    }),
    v1('ServiceAccount', 'ops', {}),
    rbac('Role', { rules: [{ apiGroups: [''], resources: ['pods'], verbs: ['list'] }] }),
    rbac('RoleBinding', {
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'ops' },
      subjects: [{ kind: 'ServiceAccount', name: 'ops', namespace: 'ns' }],
    }),
  ]) as K8sObject[];
}
