/** Pod hygiene: service account, pinned images, resources, restricted security context, probes, volumes, env references. */
import {
  asArray,
  asObject,
  type Finder,
  hasPort,
  indexObjects,
  type Json,
  type K8sObject,
  objects as list,
  type PodTemplate,
  podTemplates,
  problemList,
} from './k8s-object.ts';

type Say = (message: string) => void;
/** Checks that a Secret or ConfigMap (and its key, if given) a pod reads exists. */
type RequireRef = (kind: 'Secret' | 'ConfigMap', ref: unknown, where: string, nameField?: string) => void;

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
    const requireRef: RequireRef = (kind, source, where, nameField = 'name') => {
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
    checkPod(t, find, requireRef, say);
  }
  return problems;
}

function checkPod(t: PodTemplate, find: Finder, requireRef: RequireRef, say: Say): void {
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
    for (const [group, key] of [
      ['requests', 'cpu'],
      ['requests', 'memory'],
      ['limits', 'memory'],
    ] as const) {
      if (asObject(asObject(c.resources)[group])[key] === undefined) sayHere(`resources.${group}.${key} is not set`);
    }
    checkSecurityContext(c, asObject(t.spec.securityContext), sayHere);
    checkProbes(c, !init && !t.runsToCompletion, sayHere);
    for (const mount of list(c.volumeMounts)) {
      if (!volumes.has(String(mount.name))) sayHere(`volumeMount "${String(mount.name)}" names no volume of the pod`);
    }
    const defined = new Set<string>();
    for (const env of list(c.env)) {
      const name = String(env.name);
      const from = asObject(env.valueFrom);
      requireRef('Secret', from.secretKeyRef, `${where}: env ${name}`);
      requireRef('ConfigMap', from.configMapKeyRef, `${where}: env ${name}`);
      // Kubernetes expands $(VAR) only for variables defined earlier in the list; anything else stays literal.
      for (const [, ref] of String(env.value ?? '').matchAll(/(?<!\$)\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)) {
        if (!defined.has(ref as string)) sayHere(`env ${name} uses $(${ref}), which is not defined before it`);
      }
      defined.add(name);
    }
    for (const source of list(c.envFrom)) {
      requireRef('Secret', source.secretRef, `${where}: envFrom`);
      requireRef('ConfigMap', source.configMapRef, `${where}: envFrom`);
    }
  }
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
