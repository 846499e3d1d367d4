/** The shape of a rendered Kubernetes object, and the lenient readers every check uses on it. */

export type Json = Record<string, unknown>;

/** A rendered object as kustomize prints it. */
export interface K8sObject extends Json {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> } & Json;
}

const CLUSTER_SCOPED = new Set([
  'Namespace',
  'ClusterRole',
  'ClusterRoleBinding',
  'PersistentVolume',
  'StorageClass',
  'CustomResourceDefinition',
  'PriorityClass',
  'IngressClass',
]);

/** Kind/name, the way problems name an object. */
export function nameOf(object: K8sObject): string {
  return `${object.kind}/${object.metadata.name}`;
}

export function isClusterScoped(o: K8sObject): boolean {
  return CLUSTER_SCOPED.has(o.kind);
}

/** The object's namespace; '' for a cluster-scoped kind. */
export function namespaceOf(o: K8sObject): string {
  return isClusterScoped(o) ? '' : (o.metadata.namespace ?? '');
}

/** apiVersion as group and version: `apps/v1` -> ['apps', 'v1'], `v1` (the core group) -> ['', 'v1']. */
export function splitApiVersion(apiVersion: string): [group: string, version: string] {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  return [group ?? '', version ?? ''];
}

export function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function asObject(value: unknown): Json {
  return isObject(value) ? value : {};
}

export function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

export function asStringMap(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(asObject(value))) out[k] = String(v);
  return out;
}

/** Reports a problem of an object. */
export type Report = (o: K8sObject, message: string) => void;

/** Collects problems, each naming its object: `Kind/name: message`. */
export function problemList(): { problems: string[]; report: Report } {
  const problems: string[] = [];
  return { problems, report: (o, message) => problems.push(`${nameOf(o)}: ${message}`) };
}
