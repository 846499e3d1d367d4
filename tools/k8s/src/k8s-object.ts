/** A rendered Kubernetes object, the lenient readers every check uses on it, label selectors and pod templates. */

export type Json = Record<string, unknown>;

/** A rendered object as kustomize prints it. */
export interface K8sObject extends Json {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> } & Json;
}

const CLUSTER_SCOPED = new Set(['Namespace', 'ClusterRole', 'ClusterRoleBinding', 'PersistentVolume', 'StorageClass']);
for (const kind of ['CustomResourceDefinition', 'PriorityClass', 'IngressClass']) CLUSTER_SCOPED.add(kind);
/** Kinds whose pods are kept running, under a selector. */
export const WORKLOADS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet']);

/** Kind/name, the way problems name an object. */
export const nameOf = (o: K8sObject): string => `${o.kind}/${o.metadata.name}`;
export const isClusterScoped = (o: K8sObject): boolean => CLUSTER_SCOPED.has(o.kind);
/** The object's namespace; '' for a cluster-scoped kind. */
export const namespaceOf = (o: K8sObject): string => (isClusterScoped(o) ? '' : (o.metadata.namespace ?? ''));
export const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
export const asObject = (value: unknown): Json => (isObject(value) ? value : {});
export const asArray = (value: unknown): unknown[] => (Array.isArray(value) ? value : []);
export const objects = (value: unknown): Json[] => asArray(value).map(asObject);
export function asStringMap(value: unknown): Record<string, string> {
  return Object.fromEntries(Object.entries(asObject(value)).map(([k, v]) => [k, String(v)]));
}

/** Reports a problem of an object. */
export type Report = (o: K8sObject, message: string) => void;
/** Collects problems, each naming its object: `Kind/name: message`. */
export function problemList(): { problems: string[]; report: Report } {
  const problems: string[] = [];
  return { problems, report: (o, message) => problems.push(`${nameOf(o)}: ${message}`) };
}

/** The object of that kind and name in that namespace ('' for a cluster-scoped kind), if rendered. */
export type Finder = (kind: string, namespace: string, name: string) => K8sObject | undefined;
/** Looks objects up by kind, namespace and name; `duplicates` are those an earlier object already names. */
export function indexObjects(all: readonly K8sObject[]): { find: Finder; duplicates: K8sObject[] } {
  const byKey = new Map<string, K8sObject>();
  const duplicates: K8sObject[] = [];
  for (const o of all) {
    const key = `${o.kind}/${namespaceOf(o)}/${o.metadata.name}`;
    if (byKey.has(key)) duplicates.push(o);
    byKey.set(key, o);
  }
  return { find: (kind, namespace, name) => byKey.get(`${kind}/${namespace}/${name}`), duplicates };
}

/** A plain label map (a Service's selector, matchLabels): every label wanted is there with its value. */
export function labelsMatch(wanted: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(wanted).every(([k, v]) => labels[k] === v);
}

/** matchLabels and matchExpressions, as the API server evaluates a LabelSelector. */
export function selectorMatches(selector: Json, labels: Record<string, string>): boolean {
  if (!labelsMatch(asStringMap(selector.matchLabels), labels)) return false;
  return objects(selector.matchExpressions).every((e) => {
    const key = String(e.key);
    const has = Object.hasOwn(labels, key);
    const listed = asArray(e.values)
      .map(String)
      .includes(labels[key] as string);
    const results: Record<string, boolean> = { In: has && listed, NotIn: !has || !listed, Exists: has };
    return e.operator === 'DoesNotExist' ? !has : (results[String(e.operator)] ?? false);
  });
}

export interface PodTemplate {
  owner: K8sObject;
  namespace: string;
  labels: Record<string, string>;
  spec: Json;
  /** Where the pod spec sits in the owner, for messages. */
  at: string;
  /** A Job's pods run to completion: no probes are expected. */
  runsToCompletion: boolean;
}

/** The pod templates of a render: workloads, Jobs, CronJobs, bare Pods. */
export function podTemplates(all: readonly K8sObject[]): PodTemplate[] {
  return all.flatMap((o) => {
    const spec = asObject(o.spec);
    let template: Json | undefined;
    let at = 'spec.template.spec';
    if (WORKLOADS.has(o.kind) || o.kind === 'Job') template = asObject(spec.template);
    if (o.kind === 'CronJob') {
      template = asObject(asObject(asObject(spec.jobTemplate).spec).template);
      at = 'spec.jobTemplate.spec.template.spec';
    }
    if (o.kind === 'Pod') [template, at] = [{ metadata: o.metadata, spec: o.spec }, 'spec'];
    if (!template) return [];
    const labels = asStringMap(asObject(template.metadata).labels);
    const runsToCompletion = o.kind === 'Job' || o.kind === 'CronJob';
    return [{ owner: o, namespace: namespaceOf(o), labels, spec: asObject(template.spec), at, runsToCompletion }];
  });
}

/** The (non-init) containers of a pod spec. */
export const containers = (spec: Json): Json[] => objects(spec.containers);

/** Whether the container declares the port: by name when it is a string, else by number. */
export function hasPort(container: Json, port: unknown): boolean {
  return objects(container.ports).some((p) => (typeof port === 'string' ? p.name === port : p.containerPort === port));
}
