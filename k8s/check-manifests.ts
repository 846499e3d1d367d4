/** Offline checks of rendered Kubernetes objects: schema, unknown fields, cross-references, pod hygiene. */
import { execFileSync } from 'node:child_process';
import * as clientNode from '@kubernetes/client-node';
import * as models from 'kubernetes-models';
import { parseAllDocuments } from 'yaml';

type Json = Record<string, unknown>;

/** A rendered object as kustomize prints it. */
export interface K8sObject extends Json {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> } & Json;
}

/** Renders a kustomization directory with `kubectl kustomize` and parses every document. */
export function renderKustomization(dir: string): K8sObject[] {
  let out: string;
  try {
    out = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT')
      throw new Error('kubectl not found on PATH: it is needed to render k8s/ (kubectl kustomize)');
    throw new Error(`kubectl kustomize ${dir} failed: ${e.stderr?.trim() || e.message}`);
  }
  return parseObjects(out);
}

/** Parses a multi-document YAML stream; a YAML error throws rather than dropping a document. */
export function parseObjects(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`YAML: ${doc.errors.map((e) => e.message).join('; ')}`);
      return doc.toJS() as unknown;
    })
    .filter((value): value is K8sObject => value !== null && value !== undefined) as K8sObject[];
}

/** Every problem found in a rendered set of objects, each naming the object and the field. */
export function checkManifests(objects: readonly unknown[]): string[] {
  const problems: string[] = [];
  const valid: K8sObject[] = [];
  for (const [i, object] of objects.entries()) {
    if (!isObject(object) || typeof object.apiVersion !== 'string' || typeof object.kind !== 'string') {
      problems.push(`document ${i}: not a Kubernetes object (apiVersion and kind are required)`);
    } else if (!isObject(object.metadata) || typeof object.metadata.name !== 'string' || object.metadata.name === '') {
      problems.push(`document ${i} (${object.kind}): metadata.name is required`);
    } else {
      valid.push(object as K8sObject);
    }
  }
  for (const object of valid) {
    problems.push(...checkSchema(object), ...checkUnknownFields(object));
  }
  problems.push(...checkCrossReferences(valid));
  return problems;
}

/** Kind/name, the way problems name an object. */
export function nameOf(object: K8sObject): string {
  return `${object.kind}/${object.metadata.name}`;
}

// ---- schema: types, enums, quantities, required fields (kubernetes-models) ----

type ModelClass = new (data: unknown) => { validate(): void };

function schemaModel(apiVersion: string, kind: string): ModelClass | undefined {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  // kubernetes-models names a group's namespace in camelCase: rbac.authorization.k8s.io -> rbacAuthorizationK8sIo.
  const groupKey = group === '' ? undefined : group?.replace(/\.(\w)/g, (_, c: string) => c.toUpperCase());
  const root = models as unknown as Record<string, Record<string, Record<string, unknown>>>;
  const versions = groupKey === undefined ? { [version ?? '']: root[version ?? ''] } : root[groupKey];
  const candidate = (versions?.[version ?? ''] as Record<string, unknown> | undefined)?.[kind];
  return typeof candidate === 'function' ? (candidate as ModelClass) : undefined;
}

function checkSchema(object: K8sObject): string[] {
  const Model = schemaModel(object.apiVersion, object.kind);
  if (!Model) return [`${nameOf(object)}: no schema for apiVersion ${object.apiVersion} kind ${object.kind}`];
  try {
    new Model(forSchema(object)).validate();
    return [];
  } catch (error) {
    const errors = (error as { errors?: AjvError[] }).errors;
    if (!errors) return [`${nameOf(object)}: schema: ${(error as Error).message}`];
    const messages = errors.map((e) => {
      const where = e.instancePath === '' ? '(root)' : e.instancePath.slice(1).replaceAll('/', '.');
      const allowed = e.params.allowedValues ? ` (${(e.params.allowedValues as unknown[]).join(', ')})` : '';
      return `${nameOf(object)}: schema: ${where} ${e.message ?? 'is invalid'}${allowed}`;
    });
    return [...new Set(messages)];
  }
}

/**
 * kustomize wraps long base64 values of Secrets over several lines; the API server's base64 decoder
 * skips line breaks, the schema's "byte" format does not. Judge the value as the server will.
 */
function forSchema(object: K8sObject): K8sObject {
  if (object.kind !== 'Secret' || !isObject(object.data)) return object;
  const data = Object.fromEntries(
    Object.entries(object.data).map(([k, v]) => [k, typeof v === 'string' ? v.replace(/[\r\n]/g, '') : v]),
  );
  return { ...object, data };
}

interface AjvError {
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
}

// ---- unknown fields (the type maps of @kubernetes/client-node's models) ----

interface Attribute {
  baseName: string;
  type: string;
}
type TypeMapped = { attributeTypeMap?: Attribute[] };

function modelTypeName(apiVersion: string, kind: string): string | undefined {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const v = (version ?? '').charAt(0).toUpperCase() + (version ?? '').slice(1);
  // Kinds that exist in two groups carry the group's name first (CoreV1Event, EventsV1Event).
  const groupPrefix = (group === '' ? 'core' : (group?.split('.')[0] ?? '')).replace(/^\w/, (c) => c.toUpperCase());
  const lib = clientNode as unknown as Record<string, TypeMapped | undefined>;
  return [`${groupPrefix}${v}${kind}`, `${v}${kind}`].find((name) => lib[name]?.attributeTypeMap);
}

function checkUnknownFields(object: K8sObject): string[] {
  const typeName = modelTypeName(object.apiVersion, object.kind);
  if (!typeName) return [`${nameOf(object)}: no field list for apiVersion ${object.apiVersion} kind ${object.kind}`];
  const problems: string[] = [];
  walkFields(object, typeName, '', (path, message) => problems.push(`${nameOf(object)}: ${path}: ${message}`));
  return problems;
}

function walkFields(value: unknown, type: string, path: string, report: (path: string, message: string) => void): void {
  if (value === null || value === undefined) return;
  const array = /^Array<(.+)>$/.exec(type);
  if (array) {
    if (Array.isArray(value)) {
      for (const [i, item] of value.entries()) walkFields(item, array[1] as string, `${path}[${i}]`, report);
    }
    return;
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    if (isObject(value))
      for (const [k, v] of Object.entries(value)) walkFields(v, map[1] as string, `${path}.${k}`, report);
    return;
  }
  const attributes = (clientNode as unknown as Record<string, TypeMapped | undefined>)[type]?.attributeTypeMap;
  if (!attributes) return; // a scalar: string, number, boolean, Date, IntOrString, any (types are the schema's job)
  if (!isObject(value)) {
    report(path || '(root)', `expected an object (${type})`);
    return;
  }
  const fields = new Map(attributes.map((a) => [a.baseName, a.type]));
  for (const [key, child] of Object.entries(value)) {
    const childPath = path === '' ? key : `${path}.${key}`;
    const childType = fields.get(key);
    if (childType === undefined) report(childPath, `unknown field "${key}" (not in ${type})`);
    else walkFields(child, childType, childPath, report);
  }
}

// ---- cross-references and pod hygiene ----

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
const WORKLOADS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet']);

interface PodTemplate {
  owner: K8sObject;
  namespace: string;
  labels: Record<string, string>;
  spec: Json;
  /** Where the pod spec sits in the owner, for messages. */
  at: string;
  /** A Job's pods run to completion: no probes are expected. */
  runsToCompletion: boolean;
}

function podTemplates(objects: readonly K8sObject[]): PodTemplate[] {
  const templates: PodTemplate[] = [];
  for (const o of objects) {
    const spec = asObject(o.spec);
    let template: Json | undefined;
    let at = 'spec.template';
    if (WORKLOADS.has(o.kind) || o.kind === 'Job') template = asObject(spec.template);
    if (o.kind === 'CronJob') {
      template = asObject(asObject(asObject(spec.jobTemplate).spec).template);
      at = 'spec.jobTemplate.spec.template';
    }
    if (o.kind === 'Pod') {
      template = { metadata: o.metadata, spec: o.spec };
      at = '';
    }
    if (!template) continue;
    templates.push({
      owner: o,
      namespace: namespaceOf(o),
      labels: asStringMap(asObject(template.metadata).labels),
      spec: asObject(template.spec),
      at: at === '' ? 'spec' : `${at}.spec`,
      runsToCompletion: o.kind === 'Job' || o.kind === 'CronJob',
    });
  }
  return templates;
}

function checkCrossReferences(objects: readonly K8sObject[]): string[] {
  const problems: string[] = [];
  const report = (o: K8sObject, message: string) => problems.push(`${nameOf(o)}: ${message}`);
  const byKey = new Map<string, K8sObject>();
  const find = (kind: string, namespace: string, name: string) => byKey.get(`${kind}/${namespace}/${name}`);
  for (const o of objects) {
    const key = `${o.kind}/${namespaceOf(o)}/${o.metadata.name}`;
    if (byKey.has(key)) report(o, 'defined twice');
    byKey.set(key, o);
  }
  const templates = podTemplates(objects);

  for (const o of objects) {
    if (CLUSTER_SCOPED.has(o.kind)) continue;
    const ns = o.metadata.namespace;
    if (!ns) report(o, 'metadata.namespace is not set');
    else if (!find('Namespace', '', ns)) report(o, `namespace "${ns}" is not created by the render`);
  }

  for (const t of templates) {
    const o = t.owner;
    const spec = asObject(o.spec);
    if (WORKLOADS.has(o.kind)) {
      const selector = asObject(spec.selector);
      if (!selectorMatches(selector, t.labels)) {
        report(
          o,
          `spec.selector ${JSON.stringify(selector)} does not match its own pod labels ${JSON.stringify(t.labels)}`,
        );
      }
      const restart = t.spec.restartPolicy;
      if (restart !== undefined && restart !== 'Always')
        report(o, `${t.at}.restartPolicy must be Always, not ${String(restart)}`);
    }
    if (
      o.kind === 'StatefulSet' &&
      typeof spec.serviceName === 'string' &&
      !find('Service', t.namespace, spec.serviceName)
    ) {
      report(o, `spec.serviceName "${spec.serviceName}" is not a Service in the render`);
    }
    checkPod(t, find, (message) => report(o, message));
  }

  for (const svc of objects.filter((o) => o.kind === 'Service')) {
    const spec = asObject(svc.spec);
    const selector = asStringMap(spec.selector);
    if (Object.keys(selector).length === 0) {
      report(svc, 'spec.selector is empty: it selects no pod of the render');
      continue;
    }
    const selected = templates.filter((t) => t.namespace === namespaceOf(svc) && labelsMatch(selector, t.labels));
    if (selected.length === 0) {
      report(svc, `spec.selector ${JSON.stringify(selector)} matches no pod template in the render`);
      continue;
    }
    for (const [i, port] of asArray(spec.ports).map(asObject).entries()) {
      const target = port.targetPort ?? port.port;
      for (const t of selected) {
        if (!containers(t.spec).some((c) => hasPort(c, target))) {
          report(svc, `spec.ports[${i}].targetPort ${String(target)} is no container port of ${nameOf(t.owner)}`);
        }
      }
    }
  }

  for (const policy of objects.filter((o) => o.kind === 'NetworkPolicy')) {
    const selector = asObject(asObject(policy.spec).podSelector);
    if (!templates.some((t) => t.namespace === namespaceOf(policy) && selectorMatches(selector, t.labels))) {
      report(policy, `spec.podSelector ${JSON.stringify(selector)} selects no pod template in the render`);
    }
  }
  problems.push(...checkReachability(objects, templates));

  for (const binding of objects.filter((o) => o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding')) {
    const ref = asObject(binding.roleRef);
    const roleNs = ref.kind === 'Role' ? namespaceOf(binding) : '';
    if (ref.kind === 'Role' && !find('Role', roleNs, String(ref.name)))
      report(binding, `roleRef Role "${String(ref.name)}" is not in the render`);
    for (const [i, subject] of asArray(binding.subjects).map(asObject).entries()) {
      const ns = typeof subject.namespace === 'string' ? subject.namespace : namespaceOf(binding);
      if (subject.kind === 'ServiceAccount' && !find('ServiceAccount', ns, String(subject.name))) {
        report(
          binding,
          `subjects[${i}]: ServiceAccount "${String(subject.name)}" in namespace "${ns}" is not in the render`,
        );
      }
    }
  }
  return problems;
}

type Finder = (kind: string, namespace: string, name: string) => K8sObject | undefined;

function checkPod(t: PodTemplate, find: Finder, report: (message: string) => void): void {
  const { spec, at, namespace } = t;
  const podSecurity = asObject(spec.securityContext);
  const volumeNames = new Set(asArray(spec.volumes).map((v) => String(asObject(v).name)));
  const claimTemplates = new Set(
    asArray(asObject(t.owner.spec).volumeClaimTemplates).map((c) => String(asObject(asObject(c).metadata).name)),
  );

  const sa = typeof spec.serviceAccountName === 'string' ? spec.serviceAccountName : 'default';
  if (sa !== 'default' && !find('ServiceAccount', namespace, sa))
    report(`${at}.serviceAccountName "${sa}" is not in the render`);
  // A token in the pod is an API credential: only pods with their own ServiceAccount (and RBAC) get one.
  if (spec.automountServiceAccountToken !== false && sa === 'default') {
    report(`${at}.automountServiceAccountToken must be false for a pod on the default ServiceAccount`);
  }

  for (const [i, volume] of asArray(spec.volumes).map(asObject).entries()) {
    const where = `${at}.volumes[${i}]`;
    const secret = asObject(volume.secret);
    if (typeof secret.secretName === 'string')
      requireRef('Secret', secret.secretName, undefined, secret.optional, where);
    const configMap = asObject(volume.configMap);
    if (typeof configMap.name === 'string')
      requireRef('ConfigMap', configMap.name, undefined, configMap.optional, where);
    for (const source of asArray(asObject(volume.projected).sources).map(asObject)) {
      const s = asObject(source.secret);
      if (typeof s.name === 'string') requireRef('Secret', s.name, undefined, s.optional, where);
      const c = asObject(source.configMap);
      if (typeof c.name === 'string') requireRef('ConfigMap', c.name, undefined, c.optional, where);
    }
    const claim = asObject(volume.persistentVolumeClaim);
    if (typeof claim.claimName === 'string' && !find('PersistentVolumeClaim', namespace, claim.claimName)) {
      report(`${where}: PersistentVolumeClaim "${claim.claimName}" is not in the render`);
    }
  }

  const all = [
    ...asArray(spec.initContainers).map((c, i) => ({
      c: asObject(c),
      where: `${at}.initContainers[${i}]`,
      init: true,
    })),
    ...asArray(spec.containers).map((c, i) => ({ c: asObject(c), where: `${at}.containers[${i}]`, init: false })),
  ];
  for (const { c, where: position, init } of all) {
    const where = `${position} (${String(c.name)})`;
    const image = typeof c.image === 'string' ? c.image : '';
    if (!/[:@]/.test(image.replace(/^[^/]*:\d+\//, '')) || image.endsWith(':latest')) {
      report(`${where}: image "${image}" needs a pinned tag (not latest) or digest`);
    }

    const resources = asObject(c.resources);
    for (const [group, key] of [
      ['requests', 'cpu'],
      ['requests', 'memory'],
      ['limits', 'memory'],
    ] as const) {
      if (asObject(resources[group])[key] === undefined) report(`${where}: resources.${group}.${key} is not set`);
    }

    const sc = asObject(c.securityContext);
    const runAsNonRoot = sc.runAsNonRoot ?? podSecurity.runAsNonRoot;
    const runAsUser = sc.runAsUser ?? podSecurity.runAsUser;
    if (runAsNonRoot !== true) report(`${where}: runAsNonRoot must be true (container or pod securityContext)`);
    if (runAsUser === 0) report(`${where}: runAsUser is 0 (root)`);
    if (sc.privileged === true) report(`${where}: securityContext.privileged must not be true`);
    if (sc.allowPrivilegeEscalation !== false)
      report(`${where}: securityContext.allowPrivilegeEscalation must be false`);
    if (sc.readOnlyRootFilesystem !== true) report(`${where}: securityContext.readOnlyRootFilesystem must be true`);
    if (!asArray(asObject(sc.capabilities).drop).includes('ALL'))
      report(`${where}: securityContext.capabilities.drop must include ALL`);
    const seccomp = asObject(sc.seccompProfile ?? podSecurity.seccompProfile).type;
    if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost')
      report(`${where}: seccompProfile.type must be RuntimeDefault`);

    if (!init && !t.runsToCompletion) {
      for (const probe of ['readinessProbe', 'livenessProbe'] as const) {
        if (c[probe] === undefined) report(`${where}: ${probe} is missing`);
      }
    }
    for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe'] as const) {
      const p = asObject(c[probe]);
      for (const handler of ['httpGet', 'tcpSocket', 'grpc'] as const) {
        const port = asObject(p[handler]).port;
        if (port !== undefined && !hasPort(c, port))
          report(`${where}: ${probe}.${handler}.port ${String(port)} is not a port of the container`);
      }
    }

    for (const mount of asArray(c.volumeMounts).map(asObject)) {
      const name = String(mount.name);
      if (!volumeNames.has(name) && !claimTemplates.has(name))
        report(`${where}: volumeMount "${name}" names no volume of the pod`);
    }

    const defined = new Set<string>();
    for (const env of asArray(c.env).map(asObject)) {
      const name = String(env.name);
      const from = asObject(env.valueFrom);
      const secretRef = asObject(from.secretKeyRef);
      if (typeof secretRef.name === 'string')
        requireRef('Secret', secretRef.name, secretRef.key, secretRef.optional, `${where}: env ${name}`);
      const configRef = asObject(from.configMapKeyRef);
      if (typeof configRef.name === 'string')
        requireRef('ConfigMap', configRef.name, configRef.key, configRef.optional, `${where}: env ${name}`);
      // Kubernetes expands $(VAR) only for variables defined earlier in the list; anything else stays literal.
      if (typeof env.value === 'string') {
        for (const [, ref] of env.value.matchAll(/(?<!\$)\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)) {
          if (!defined.has(ref as string))
            report(`${where}: env ${name} uses $(${ref}), which is not defined before it`);
        }
      }
      defined.add(name);
    }
    for (const source of asArray(c.envFrom).map(asObject)) {
      const s = asObject(source.secretRef);
      if (typeof s.name === 'string') requireRef('Secret', s.name, undefined, s.optional, `${where}: envFrom`);
      const m = asObject(source.configMapRef);
      if (typeof m.name === 'string') requireRef('ConfigMap', m.name, undefined, m.optional, `${where}: envFrom`);
    }
  }

  function requireRef(
    kind: 'Secret' | 'ConfigMap',
    name: string,
    key: unknown,
    optional: unknown,
    where: string,
  ): void {
    if (optional === true) return;
    const target = find(kind, namespace, name);
    if (!target) {
      report(`${where}: ${kind} "${name}" is not in the render`);
      return;
    }
    if (typeof key === 'string') {
      const keys = new Set([...Object.keys(asObject(target.data)), ...Object.keys(asObject(target.stringData))]);
      if (!keys.has(key)) report(`${where}: ${kind} "${name}" has no key "${key}"`);
    }
  }
}

/**
 * A pod whose environment names a Service by URL (redis://...@microbank-redis:6379, http://microbank-x)
 * must find that Service, on a port it serves, and be admitted by every NetworkPolicy guarding its pods.
 */
function checkReachability(objects: readonly K8sObject[], templates: readonly PodTemplate[]): string[] {
  const problems: string[] = [];
  const services = objects.filter((o) => o.kind === 'Service');
  const policies = objects.filter((o) => o.kind === 'NetworkPolicy');
  for (const client of templates) {
    for (const [i, c] of containers(client.spec).entries()) {
      for (const env of asArray(c.env).map(asObject)) {
        if (typeof env.value !== 'string') continue;
        const url = /^([a-z][a-z0-9+.-]*):\/\/(?:[^@/]*@)?([a-z0-9-]+)(?::(\d+))?(?:[/?#]|$)/.exec(env.value);
        if (!url) continue;
        const [, scheme, host, explicitPort] = url;
        if (host === 'localhost') continue;
        const where = `${nameOf(client.owner)}: ${client.at}.containers[${i}] (${String(c.name)}): env ${String(env.name)}`;
        const svc = services.find((s) => s.metadata.name === host && namespaceOf(s) === client.namespace);
        if (!svc) {
          problems.push(`${where}: host "${host}" is not a Service in the render`);
          continue;
        }
        const port = Number(explicitPort ?? (scheme === 'https' ? 443 : scheme === 'http' ? 80 : Number.NaN));
        const svcPort = asArray(asObject(svc.spec).ports)
          .map(asObject)
          .find((p) => p.port === port);
        if (!svcPort) {
          problems.push(`${where}: Service "${host}" has no port ${Number.isNaN(port) ? '(none given)' : port}`);
          continue;
        }
        const selector = asStringMap(asObject(svc.spec).selector);
        const servers = templates.filter((t) => t.namespace === client.namespace && labelsMatch(selector, t.labels));
        for (const server of servers) {
          const guarding = policies.filter(
            (p) =>
              namespaceOf(p) === server.namespace &&
              selectorMatches(asObject(asObject(p.spec).podSelector), server.labels) &&
              isIngressPolicy(asObject(p.spec)),
          );
          if (guarding.length === 0) continue;
          const target = svcPort.targetPort ?? svcPort.port;
          const targetNumbers = containers(server.spec)
            .flatMap((sc) => asArray(sc.ports).map(asObject))
            .filter((p) => p.name === target || p.containerPort === target);
          const admitted = guarding.some((p) =>
            asArray(asObject(p.spec).ingress)
              .map(asObject)
              .some((rule) => ruleAdmits(rule, client, target, targetNumbers)),
          );
          if (!admitted) {
            problems.push(
              `${where}: no NetworkPolicy rule admits it to ${nameOf(server.owner)} (guarded by ${guarding.map(nameOf).join(', ')})`,
            );
          }
        }
      }
    }
  }
  return problems;
}

function isIngressPolicy(spec: Json): boolean {
  const types = asArray(spec.policyTypes);
  return types.length === 0 || types.includes('Ingress');
}

function ruleAdmits(rule: Json, client: PodTemplate, target: unknown, targetPorts: Json[]): boolean {
  const ports = asArray(rule.ports).map(asObject);
  const portOk =
    ports.length === 0 ||
    ports.some(
      (p) =>
        p.port === undefined ||
        p.port === target ||
        targetPorts.some((tp) => tp.containerPort === p.port || tp.name === p.port),
    );
  if (!portOk) return false;
  const peers = asArray(rule.from).map(asObject);
  if (peers.length === 0) return true;
  return peers.some((peer) => {
    if (peer.ipBlock !== undefined) return false; // pod-to-pod traffic is not judged by IP here
    if (peer.namespaceSelector !== undefined) return false; // only same-namespace peers are modelled
    return selectorMatches(asObject(peer.podSelector), client.labels);
  });
}

// ---- helpers ----

function namespaceOf(o: K8sObject): string {
  return CLUSTER_SCOPED.has(o.kind) ? '' : (o.metadata.namespace ?? '');
}

function containers(spec: Json): Json[] {
  return asArray(spec.containers).map(asObject);
}

function hasPort(container: Json, port: unknown): boolean {
  return asArray(container.ports)
    .map(asObject)
    .some((p) => (typeof port === 'string' ? p.name === port : p.containerPort === port));
}

/** matchLabels and matchExpressions, as the API server evaluates a LabelSelector. */
export function selectorMatches(selector: Json, labels: Record<string, string>): boolean {
  if (!labelsMatch(asStringMap(selector.matchLabels), labels)) return false;
  return asArray(selector.matchExpressions)
    .map(asObject)
    .every((e) => {
      const key = String(e.key);
      const values = asArray(e.values).map(String);
      const has = Object.hasOwn(labels, key);
      switch (e.operator) {
        case 'In':
          return has && values.includes(labels[key] as string);
        case 'NotIn':
          return !has || !values.includes(labels[key] as string);
        case 'Exists':
          return has;
        case 'DoesNotExist':
          return !has;
        default:
          return false;
      }
    });
}

function labelsMatch(wanted: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(wanted).every(([k, v]) => labels[k] === v);
}

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function asObject(value: unknown): Json {
  return isObject(value) ? value : {};
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function asStringMap(value: unknown): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(asObject(value))) out[k] = String(v);
  return out;
}
