/** Pod hygiene: service account, pinned images, resources, security context, probes, volumes, env references. */
import { asArray, asObject, type Json, type K8sObject, problemList } from './k8s-object.ts';
import { type Finder, indexObjects } from './object-index.ts';
import { hasPort, type PodTemplate, podTemplates } from './pod-templates.ts';

type Say = (message: string) => void;
type ConfigKind = 'Secret' | 'ConfigMap';

/**
 * Every problem of every pod template in the render (Deployments, StatefulSets, Jobs, CronJobs, Pods...).
 * `externalSecrets`: names of Secrets that exist outside the render; references to them are not reported.
 */
export function checkPodHygiene(objects: readonly K8sObject[], externalSecrets: readonly string[] = []): string[] {
  const { problems, report } = problemList();
  const { find } = indexObjects(objects);
  const external = new Set(externalSecrets);
  for (const t of podTemplates(objects)) checkPod(t, find, external, (message) => report(t.owner, message));
  return problems;
}

function checkPod(t: PodTemplate, find: Finder, externalSecrets: ReadonlySet<string>, say: Say): void {
  const refs = configReferences(find, t.namespace, externalSecrets, say);
  checkServiceAccount(t, find, say);
  checkVolumes(t, find, refs, say);
  const volumeNames = new Set(asArray(t.spec.volumes).map((v) => String(asObject(v).name)));
  const claimTemplates = new Set(
    asArray(asObject(t.owner.spec).volumeClaimTemplates).map((c) => String(asObject(asObject(c).metadata).name)),
  );
  const all = [
    ...asArray(t.spec.initContainers).map((c, i) => ({
      c: asObject(c),
      at: `${t.at}.initContainers[${i}]`,
      init: true,
    })),
    ...asArray(t.spec.containers).map((c, i) => ({ c: asObject(c), at: `${t.at}.containers[${i}]`, init: false })),
  ];
  for (const { c, at, init } of all) {
    const where = `${at} (${String(c.name)})`;
    const sayHere: Say = (message) => say(`${where}: ${message}`);
    checkImage(c, sayHere);
    checkResources(c, sayHere);
    checkSecurityContext(c, asObject(t.spec.securityContext), sayHere);
    checkProbes(c, !init && !t.runsToCompletion, sayHere);
    for (const mount of asArray(c.volumeMounts).map(asObject)) {
      const name = String(mount.name);
      if (!volumeNames.has(name) && !claimTemplates.has(name))
        sayHere(`volumeMount "${name}" names no volume of the pod`);
    }
    checkEnv(c, where, refs, sayHere);
  }
}

function checkServiceAccount(t: PodTemplate, find: Finder, say: Say): void {
  const sa = typeof t.spec.serviceAccountName === 'string' ? t.spec.serviceAccountName : 'default';
  if (sa !== 'default' && !find('ServiceAccount', t.namespace, sa))
    say(`${t.at}.serviceAccountName "${sa}" is not in the render`);
  // A token in the pod is an API credential: only pods with their own ServiceAccount (and RBAC) get one.
  if (t.spec.automountServiceAccountToken !== false && sa === 'default') {
    say(`${t.at}.automountServiceAccountToken must be false for a pod on the default ServiceAccount`);
  }
}

function checkVolumes(t: PodTemplate, find: Finder, refs: ConfigReferences, say: Say): void {
  for (const [i, volume] of asArray(t.spec.volumes).map(asObject).entries()) {
    const where = `${t.at}.volumes[${i}]`;
    refs.whole('Secret', volume.secret, where, 'secretName');
    refs.whole('ConfigMap', volume.configMap, where);
    for (const source of asArray(asObject(volume.projected).sources).map(asObject)) {
      refs.whole('Secret', source.secret, where);
      refs.whole('ConfigMap', source.configMap, where);
    }
    const claim = asObject(volume.persistentVolumeClaim);
    if (typeof claim.claimName === 'string' && !find('PersistentVolumeClaim', t.namespace, claim.claimName)) {
      say(`${where}: PersistentVolumeClaim "${claim.claimName}" is not in the render`);
    }
  }
}

function checkImage(c: Json, say: Say): void {
  const image = typeof c.image === 'string' ? c.image : '';
  if (!/[:@]/.test(image.replace(/^[^/]*:\d+\//, '')) || image.endsWith(':latest')) {
    say(`image "${image}" needs a pinned tag (not latest) or digest`);
  }
}

function checkResources(c: Json, say: Say): void {
  const resources = asObject(c.resources);
  for (const [group, key] of [
    ['requests', 'cpu'],
    ['requests', 'memory'],
    ['limits', 'memory'],
  ] as const) {
    if (asObject(resources[group])[key] === undefined) say(`resources.${group}.${key} is not set`);
  }
}

/** The container's securityContext, falling back to the pod's where Kubernetes does. */
function checkSecurityContext(c: Json, podSecurity: Json, say: Say): void {
  const sc = asObject(c.securityContext);
  const runAsNonRoot = sc.runAsNonRoot ?? podSecurity.runAsNonRoot;
  const runAsUser = sc.runAsUser ?? podSecurity.runAsUser;
  if (runAsNonRoot !== true) say('runAsNonRoot must be true (container or pod securityContext)');
  if (runAsUser === 0) say('runAsUser is 0 (root)');
  if (sc.privileged === true) say('securityContext.privileged must not be true');
  if (sc.allowPrivilegeEscalation !== false) say('securityContext.allowPrivilegeEscalation must be false');
  if (sc.readOnlyRootFilesystem !== true) say('securityContext.readOnlyRootFilesystem must be true');
  if (!asArray(asObject(sc.capabilities).drop).includes('ALL'))
    say('securityContext.capabilities.drop must include ALL');
  const seccomp = asObject(sc.seccompProfile ?? podSecurity.seccompProfile).type;
  if (seccomp !== 'RuntimeDefault' && seccomp !== 'Localhost') say('seccompProfile.type must be RuntimeDefault');
}

/** Readiness and liveness probes where the container keeps running; every probe on a port it has. */
function checkProbes(c: Json, probesExpected: boolean, say: Say): void {
  if (probesExpected) {
    for (const probe of ['readinessProbe', 'livenessProbe'] as const) {
      if (c[probe] === undefined) say(`${probe} is missing`);
    }
  }
  for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe'] as const) {
    const p = asObject(c[probe]);
    for (const handler of ['httpGet', 'tcpSocket', 'grpc'] as const) {
      const port = asObject(p[handler]).port;
      if (port !== undefined && !hasPort(c, port))
        say(`${probe}.${handler}.port ${String(port)} is not a port of the container`);
    }
  }
}

function checkEnv(c: Json, where: string, refs: ConfigReferences, say: Say): void {
  const defined = new Set<string>();
  for (const env of asArray(c.env).map(asObject)) {
    const name = String(env.name);
    const from = asObject(env.valueFrom);
    refs.key('Secret', from.secretKeyRef, `${where}: env ${name}`);
    refs.key('ConfigMap', from.configMapKeyRef, `${where}: env ${name}`);
    // Kubernetes expands $(VAR) only for variables defined earlier in the list; anything else stays literal.
    if (typeof env.value === 'string') {
      for (const [, ref] of env.value.matchAll(/(?<!\$)\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g)) {
        if (!defined.has(ref as string)) say(`env ${name} uses $(${ref}), which is not defined before it`);
      }
    }
    defined.add(name);
  }
  for (const source of asArray(c.envFrom).map(asObject)) {
    refs.whole('Secret', source.secretRef, `${where}: envFrom`);
    refs.whole('ConfigMap', source.configMapRef, `${where}: envFrom`);
  }
}

/**
 * Checks of the Secrets and ConfigMaps a pod reads; a reference marked optional, or to a Secret declared
 * external (it exists outside the render), is not checked.
 */
interface ConfigReferences {
  /** A volume or envFrom source naming a whole Secret or ConfigMap (`name`; a secret volume: `secretName`). */
  whole(kind: ConfigKind, source: unknown, where: string, nameField?: string): void;
  /** An env valueFrom naming one key of a Secret or ConfigMap. */
  key(kind: ConfigKind, keyRef: unknown, where: string): void;
}

function configReferences(
  find: Finder,
  namespace: string,
  externalSecrets: ReadonlySet<string>,
  say: Say,
): ConfigReferences {
  const requireRef = (kind: ConfigKind, ref: Json, name: unknown, key: unknown, where: string): void => {
    if (typeof name !== 'string' || ref.optional === true) return;
    const target = find(kind, namespace, name);
    if (!target && kind === 'Secret' && externalSecrets.has(name)) return;
    if (!target) {
      say(`${where}: ${kind} "${name}" is not in the render`);
      return;
    }
    if (typeof key === 'string') {
      const keys = new Set([...Object.keys(asObject(target.data)), ...Object.keys(asObject(target.stringData))]);
      if (!keys.has(key)) say(`${where}: ${kind} "${name}" has no key "${key}"`);
    }
  };
  return {
    whole: (kind, source, where, nameField = 'name') => {
      const ref = asObject(source);
      requireRef(kind, ref, ref[nameField], undefined, where);
    },
    key: (kind, keyRef, where) => {
      const ref = asObject(keyRef);
      requireRef(kind, ref, ref.name, ref.key, where);
    },
  };
}
