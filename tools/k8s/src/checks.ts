/**
 * A rendered Kubernetes object with the lenient readers, label selectors and pod templates every check uses, and the
 * checks of a render against itself: cross-references (names, namespaces, selectors, Services, NetworkPolicies, RBAC,
 * URLs in env) and pod hygiene (service account, pinned images, resources, restricted security context, probes).
 */

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
export const list = (value: unknown): Json[] => asArray(value).map(asObject);
export const asStringMap = (value: unknown): Record<string, string> =>
  Object.fromEntries(Object.entries(asObject(value)).map(([k, v]) => [k, String(v)]));

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
  return list(selector.matchExpressions).every((e) => {
    const key = String(e.key);
    const has = Object.hasOwn(labels, key);
    const listed = asArray(e.values).some((v) => String(v) === labels[key]);
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
export const containers = (spec: Json): Json[] => list(spec.containers);

/** Whether the container declares the port: by name when it is a string, else by number. */
export function hasPort(container: Json, port: unknown): boolean {
  return list(container.ports).some((p) => (typeof port === 'string' ? p.name === port : p.containerPort === port));
}

const json = JSON.stringify;

/**
 * Every reference between the objects of a render that points at nothing, or at the wrong thing. `namespaces`: those
 * created apart from the render (k8s/namespace, applied once before the bank), where its objects may sit too.
 */
export function checkCrossReferences(objects: readonly K8sObject[], namespaces: readonly string[] = []): string[] {
  const { problems, report } = problemList();
  const { find, duplicates } = indexObjects(objects);
  for (const o of duplicates) report(o, 'defined twice');
  const templates = podTemplates(objects);
  for (const o of objects.filter((x) => !isClusterScoped(x))) {
    const ns = o.metadata.namespace;
    if (!ns) report(o, 'metadata.namespace is not set');
    else if (!find('Namespace', '', ns) && !namespaces.includes(ns))
      report(o, `namespace "${ns}" is neither rendered nor created apart`);
  }
  checkWorkloads(templates, find, report);
  checkServices(objects, templates, report);
  const networkPolicies = objects.filter((o) => o.kind === 'NetworkPolicy');
  for (const policy of networkPolicies) {
    const selector = asObject(asObject(policy.spec).podSelector);
    if (!templates.some((t) => t.namespace === namespaceOf(policy) && selectorMatches(selector, t.labels)))
      report(policy, `spec.podSelector ${json(selector)} selects no pod template in the render`);
  }
  checkReachability(networkPolicies, templates, find, problems);
  for (const binding of objects.filter((o) => o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding')) {
    const ref = asObject(binding.roleRef);
    if (ref.kind === 'Role' && !find('Role', namespaceOf(binding), String(ref.name)))
      report(binding, `roleRef Role "${String(ref.name)}" is not in the render`);
    for (const [i, subject] of list(binding.subjects).entries()) {
      const ns = typeof subject.namespace === 'string' ? subject.namespace : namespaceOf(binding);
      const who = `ServiceAccount "${String(subject.name)}" in namespace "${ns}"`;
      if (subject.kind === 'ServiceAccount' && !find('ServiceAccount', ns, String(subject.name)))
        report(binding, `subjects[${i}]: ${who} is not in the render`);
    }
  }
  return problems;
}

function checkWorkloads(templates: readonly PodTemplate[], find: Finder, report: Report): void {
  for (const t of templates) {
    const o = t.owner;
    const spec = asObject(o.spec);
    if (WORKLOADS.has(o.kind)) {
      const selector = asObject(spec.selector);
      if (!selectorMatches(selector, t.labels))
        report(o, `spec.selector ${json(selector)} does not match its own pod labels ${json(t.labels)}`);
      const restart = t.spec.restartPolicy;
      if (restart !== undefined && restart !== 'Always')
        report(o, `${t.at}.restartPolicy must be Always, not ${String(restart)}`);
    }
    const serviceName = o.kind === 'StatefulSet' ? spec.serviceName : undefined;
    if (typeof serviceName === 'string' && !find('Service', t.namespace, serviceName))
      report(o, `spec.serviceName "${serviceName}" is not a Service in the render`);
  }
}

function checkServices(objects: readonly K8sObject[], templates: readonly PodTemplate[], report: Report): void {
  for (const svc of objects.filter((o) => o.kind === 'Service')) {
    const spec = asObject(svc.spec);
    const selector = asStringMap(spec.selector);
    if (Object.keys(selector).length === 0) {
      report(svc, 'spec.selector is empty: it selects no pod of the render');
      continue;
    }
    const selected = templates.filter((t) => t.namespace === namespaceOf(svc) && labelsMatch(selector, t.labels));
    if (selected.length === 0) report(svc, `spec.selector ${json(selector)} matches no pod template in the render`);
    for (const [i, port] of list(spec.ports).entries()) {
      const target = port.targetPort ?? port.port;
      for (const t of selected.filter((t) => !containers(t.spec).some((c) => hasPort(c, target))))
        report(svc, `spec.ports[${i}].targetPort ${String(target)} is no container port of ${nameOf(t.owner)}`);
    }
  }
}

/**
 * A pod whose environment names a Service by URL (redis://...@microbank-redis:6379, http://microbank-x)
 * must find that Service, on a port it serves, be admitted by the NetworkPolicies guarding the
 * Service's pods (ingress), and be let out by the NetworkPolicies guarding its own (egress).
 */
function checkReachability(policies: K8sObject[], templates: readonly PodTemplate[], find: Finder, problems: string[]) {
  for (const client of templates) {
    for (const [i, c] of containers(client.spec).entries()) {
      // A list of URLs (Redis Cluster seeds) is checked URL by URL; a host <pod>.<service> is a pod by its DNS name.
      const values = list(c.env).flatMap((env) =>
        String(env.value ?? '')
          .split(',')
          .map((value) => ({ env, value })),
      );
      for (const { env, value } of values) {
        const url = /^([a-z][a-z0-9+.-]*):\/\/(?:[^@/]*@)?(?:([a-z0-9-]+)\.)?([a-z0-9-]+)(?::(\d+))?(?:[/?#]|$)/.exec(
          value,
        );
        if (!url || url[3] === 'localhost') continue;
        const [, scheme, pod, host, explicitPort] = url;
        const where = `${nameOf(client.owner)}: ${client.at}.containers[${i}] (${String(c.name)}): env ${String(env.name)}`;
        const svc = find('Service', client.namespace, host as string);
        if (!svc) {
          problems.push(`${where}: host "${host}" is not a Service in the render`);
          continue;
        }
        const governed = templates.filter((t) => asObject(t.owner.spec).serviceName === host);
        const replicas = (t: PodTemplate) => Number(asObject(t.owner.spec).replicas ?? 1);
        const pods = governed.flatMap((t) =>
          [...Array(replicas(t)).keys()].map((n) => `${t.owner.metadata.name}-${n}`),
        );
        if (pod !== undefined && !pods.includes(pod)) {
          problems.push(`${where}: "${pod}.${host}" is no pod of a StatefulSet governed by Service "${host}"`);
          continue;
        }
        const port = Number(explicitPort ?? ({ https: 443, http: 80 } as Json)[scheme as string] ?? Number.NaN);
        const svcPort = list(asObject(svc.spec).ports).find((p) => p.port === port);
        if (!svcPort) {
          problems.push(`${where}: Service "${host}" has no port ${Number.isNaN(port) ? '(none given)' : port}`);
          continue;
        }
        const selector = asStringMap(asObject(svc.spec).selector);
        const target = svcPort.targetPort ?? svcPort.port;
        const servers = templates.filter((t) => t.namespace === client.namespace && labelsMatch(selector, t.labels));
        // A URL of the pod's own Service is an address it publishes (an account's ACCOUNT_URL), not one it calls.
        for (const server of servers.filter((t) => t !== client)) {
          const ports = containers(server.spec).flatMap((sc) => list(sc.ports));
          const targetPorts = ports.filter((p) => p.name === target || p.containerPort === target);
          const accepted = new Set([undefined, target, ...targetPorts.flatMap((tp) => [tp.containerPort, tp.name])]);
          const ruleAllows = (peers: unknown, rulePorts: unknown, peer: PodTemplate): boolean =>
            (list(rulePorts).length === 0 || list(rulePorts).some((p) => accepted.has(p.port))) &&
            (list(peers).length === 0 || list(peers).some((s) => admitsPod(s, peer)));
          const to = nameOf(server.owner);
          const shut = guardedBy(policies, 'ingress', server, (rule) => ruleAllows(rule.from, rule.ports, client));
          if (shut) problems.push(`${where}: no NetworkPolicy rule admits it to ${to} (guarded by ${shut})`);
          const kept = guardedBy(policies, 'egress', client, (rule) => ruleAllows(rule.to, rule.ports, server));
          if (kept)
            problems.push(`${where}: no NetworkPolicy rule lets it out to ${to} (its egress is guarded by ${kept})`);
        }
      }
    }
  }
}

/** Whether a peer of a rule admits the pod: by podSelector, in its namespace (ipBlock, namespaceSelector: not judged). */
function admitsPod(peer: Json, pod: PodTemplate): boolean {
  return !peer.ipBlock && !peer.namespaceSelector && selectorMatches(asObject(peer.podSelector), pod.labels);
}

/** The NetworkPolicies guarding the pod in `dir` when none of their rules lets the traffic through, else ''. */
function guardedBy(policies: K8sObject[], dir: 'ingress' | 'egress', pod: PodTemplate, allows: (r: Json) => boolean) {
  const specs = policies.filter((p) => namespaceOf(p) === pod.namespace).map((p) => ({ p, spec: asObject(p.spec) }));
  const guarding = specs.filter(
    ({ spec }) => selectorMatches(asObject(spec.podSelector), pod.labels) && guards(spec, dir),
  );
  const allowed = guarding.length === 0 || guarding.some(({ spec }) => list(spec[dir]).some(allows));
  return allowed ? '' : guarding.map(({ p }) => nameOf(p)).join(', ');
}

/** Whether a policy guards `direction`: its policyTypes say so, or (unset) it has rules of that kind / is ingress. */
export function guards(spec: Json, direction: 'ingress' | 'egress'): boolean {
  const types = list(spec.policyTypes).length > 0 ? (spec.policyTypes as unknown[]) : undefined;
  if (types) return types.includes(direction === 'ingress' ? 'Ingress' : 'Egress');
  return direction === 'ingress' || spec.egress !== undefined;
}

type Say = (message: string) => void;

/**
 * Every problem of every pod template in the render (Deployments, StatefulSets, Jobs, CronJobs, Pods...).
 * `externalSecrets`: names of Secrets that exist outside the render; references to them are not reported.
 */
export function checkPodHygiene(objects: readonly K8sObject[], externalSecrets: readonly string[] = []): string[] {
  const { problems, report } = problemList();
  const { find } = indexObjects(objects);
  for (const t of podTemplates(objects)) {
    const say: Say = (message) => report(t.owner, message);
    // A reference marked optional, or to a Secret declared external, is not checked.
    const requireRef = (kind: 'Secret' | 'ConfigMap', source: unknown, where: string, nameField = 'name') => {
      const ref = asObject(source);
      const name = ref[nameField];
      if (typeof name !== 'string' || ref.optional === true) return;
      const target = find(kind, t.namespace, name);
      if (!target && !(kind === 'Secret' && externalSecrets.includes(name)))
        say(`${where}: ${kind} "${name}" is not in the render`);
      const keys = { ...asObject(target?.data), ...asObject(target?.stringData) };
      if (target && typeof ref.key === 'string' && !Object.hasOwn(keys, ref.key))
        say(`${where}: ${kind} "${name}" has no key "${ref.key}"`);
    };
    const sa = typeof t.spec.serviceAccountName === 'string' ? t.spec.serviceAccountName : 'default';
    if (sa !== 'default' && !find('ServiceAccount', t.namespace, sa))
      say(`${t.at}.serviceAccountName "${sa}" is not in the render`);
    // A token in the pod is an API credential: only pods with their own ServiceAccount (and RBAC) get one.
    if (t.spec.automountServiceAccountToken !== false && sa === 'default')
      say(`${t.at}.automountServiceAccountToken must be false for a pod on the default ServiceAccount`);
    for (const [i, volume] of list(t.spec.volumes).entries()) {
      const where = `${t.at}.volumes[${i}]`;
      requireRef('Secret', volume.secret, where, 'secretName');
      requireRef('ConfigMap', volume.configMap, where);
      for (const source of list(asObject(volume.projected).sources)) {
        requireRef('Secret', source.secret, where);
        requireRef('ConfigMap', source.configMap, where);
      }
      const claim = asObject(volume.persistentVolumeClaim).claimName;
      if (typeof claim === 'string' && !find('PersistentVolumeClaim', t.namespace, claim))
        say(`${where}: PersistentVolumeClaim "${claim}" is not in the render`);
    }
    const volumes = new Set([
      ...list(t.spec.volumes).map((v) => String(v.name)),
      ...list(asObject(t.owner.spec).volumeClaimTemplates).map((c) => String(asObject(c.metadata).name)),
    ]);
    const all = [
      ...list(t.spec.initContainers).map((c, i) => ({ c, at: `${t.at}.initContainers[${i}]`, init: true })),
      ...list(t.spec.containers).map((c, i) => ({ c, at: `${t.at}.containers[${i}]`, init: false })),
    ];
    for (const { c, at, init } of all) {
      const where = `${at} (${String(c.name)})`;
      const sayHere: Say = (message) => say(`${where}: ${message}`);
      const image = typeof c.image === 'string' ? c.image : '';
      if (!/[:@]/.test(image.replace(/^[^/]*:\d+\//, '')) || image.endsWith(':latest'))
        sayHere(`image "${image}" needs a pinned tag (not latest) or digest`);
      for (const [group = '', key = ''] of ['requests cpu', 'requests memory', 'limits memory'].map((r) =>
        r.split(' '),
      ))
        if (asObject(asObject(c.resources)[group])[key] === undefined) sayHere(`resources.${group}.${key} is not set`);
      checkSecurityContext(c, asObject(t.spec.securityContext), sayHere);
      checkProbes(c, !init && !t.runsToCompletion, sayHere);
      for (const mount of list(c.volumeMounts).filter((m) => !volumes.has(String(m.name))))
        sayHere(`volumeMount "${String(mount.name)}" names no volume of the pod`);
      const defined = new Set<string>();
      for (const env of list(c.env)) {
        const name = String(env.name);
        const from = asObject(env.valueFrom);
        requireRef('Secret', from.secretKeyRef, `${where}: env ${name}`);
        requireRef('ConfigMap', from.configMapKeyRef, `${where}: env ${name}`);
        // Kubernetes expands $(VAR) only for variables defined earlier in the list; anything else stays literal.
        for (const [, ref] of String(env.value ?? '').matchAll(/(?<!\$)\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g))
          if (!defined.has(ref as string)) sayHere(`env ${name} uses $(${ref}), which is not defined before it`);
        defined.add(name);
      }
      for (const source of list(c.envFrom)) {
        requireRef('Secret', source.secretRef, `${where}: envFrom`);
        requireRef('ConfigMap', source.configMapRef, `${where}: envFrom`);
      }
    }
  }
  return problems;
}

/** The restricted Pod Security Standard: the container's securityContext, falling back to the pod's where Kubernetes does. */
function checkSecurityContext(c: Json, pod: Json, say: Say): void {
  const sc = asObject(c.securityContext);
  if ((sc.runAsNonRoot ?? pod.runAsNonRoot) !== true)
    say('runAsNonRoot must be true (container or pod securityContext)');
  if ((sc.runAsUser ?? pod.runAsUser) === 0) say('runAsUser is 0 (root)');
  if (sc.privileged === true) say('securityContext.privileged must not be true');
  if (sc.allowPrivilegeEscalation !== false) say('securityContext.allowPrivilegeEscalation must be false');
  if (sc.readOnlyRootFilesystem !== true) say('securityContext.readOnlyRootFilesystem must be true');
  if (!asArray(asObject(sc.capabilities).drop).includes('ALL'))
    say('securityContext.capabilities.drop must include ALL');
  const seccomp = asObject(sc.seccompProfile ?? pod.seccompProfile).type;
  if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') say('seccompProfile.type must be RuntimeDefault');
}

/** Readiness and liveness probes where the container keeps running; every probe on a port it has. */
function checkProbes(c: Json, probesExpected: boolean, say: Say): void {
  for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe'] as const) {
    if (probesExpected && probe !== 'startupProbe' && c[probe] === undefined) say(`${probe} is missing`);
    for (const handler of ['httpGet', 'tcpSocket', 'grpc'] as const) {
      const port = asObject(asObject(c[probe])[handler]).port;
      if (port !== undefined && !hasPort(c, port))
        say(`${probe}.${handler}.port ${String(port)} is not a port of the container`);
    }
  }
}
