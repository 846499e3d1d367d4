/**
 * The rendered manifests' pods as `docker run` starts them: each Deployment's and StatefulSet's
 * container with its own command, args, env, security settings, volumes and limits, translated
 * field by field. A field this translation does not know fails loudly rather than being dropped.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type K8sObject, selectorMatches } from '@microbank/k8s-tools';

/** How the kubelet would decide that a pod is ready: an HTTP GET on a named port, or a command. */
export type Probe = { httpGet: { path: string; port: number } } | { exec: string[] };

/** One pod of a workload: `<workload>-<ordinal>`, as a StatefulSet names its pods. */
export interface PodRun {
  name: string;
  workload: string;
  labels: Record<string, string>;
  image: string;
  /** `docker run` flags: user, security, env names, mounts, tmpfs, limits, ports, stop timeout. */
  flags: string[];
  /** The values of the `--env NAME` flags: handed to the docker CLI's environment, never its argv. */
  env: Record<string, string>;
  /** After the image: the command's arguments (its first word is the entrypoint flag) and args. */
  args: string[];
  ports: Array<{ name?: string; containerPort: number }>;
  readiness: Probe;
  /** Named volumes (a StatefulSet's claims) to create first, with the pod's fsGroup. */
  volumes: Array<{ name: string; fsGroup?: number }>;
  terminationGraceSeconds: number;
}

/** A Service: the pods it selects and where its ports lead. */
export interface ServiceRun {
  name: string;
  pods: string[];
  ports: Array<{ port: number; targetPort: number }>;
}

export interface TranslateOptions {
  /** Where ConfigMap and Secret volumes are written, one directory each, for bind mounts. */
  filesDir: string;
  /** Prefix of the named volumes, so that runs do not share a volume. */
  volumePrefix: string;
}

// The parts of the Kubernetes API this translation reads.
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: KeyRef; configMapKeyRef?: KeyRef };
}
interface KeyRef {
  name: string;
  key: string;
}
interface SecurityContext {
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
  fsGroup?: number;
  supplementalGroups?: number[];
  readOnlyRootFilesystem?: boolean;
  allowPrivilegeEscalation?: boolean;
  privileged?: boolean;
  capabilities?: { drop?: string[]; add?: string[] };
  seccompProfile?: { type: string };
}
interface Container {
  name: string;
  image: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  envFrom?: unknown[];
  ports?: Array<{ name?: string; containerPort: number }>;
  readinessProbe?: { httpGet?: { path: string; port: number | string }; exec?: { command: string[] } };
  securityContext?: SecurityContext;
  volumeMounts?: Array<{ name: string; mountPath: string; readOnly?: boolean; subPath?: string }>;
  resources?: { limits?: { cpu?: string; memory?: string } };
}
interface Volume {
  name: string;
  emptyDir?: { sizeLimit?: string; medium?: string };
  configMap?: { name: string; items?: unknown[] };
  secret?: { secretName: string; items?: unknown[] };
  persistentVolumeClaim?: unknown;
}
interface PodSpec {
  containers: Container[];
  initContainers?: unknown[];
  securityContext?: SecurityContext;
  volumes?: Volume[];
  terminationGracePeriodSeconds?: number;
}
interface Workload extends K8sObject {
  spec: {
    replicas?: number;
    template: { metadata: { labels: Record<string, string> }; spec: PodSpec };
    volumeClaimTemplates?: Array<{ metadata: { name: string } }>;
  };
}
interface DataObject extends K8sObject {
  data?: Record<string, string>;
  stringData?: Record<string, string>;
}

const WORKLOADS = new Set(['Deployment', 'StatefulSet']);

export function podRuns(objects: readonly K8sObject[], options: TranslateOptions): PodRun[] {
  const lookup = dataLookup(objects);
  return objects
    .filter((o): o is Workload => WORKLOADS.has(o.kind))
    .flatMap((workload) =>
      Array.from({ length: workload.spec.replicas ?? 1 }, (_, ordinal) => podRun(workload, ordinal, lookup, options)),
    );
}

export function serviceRuns(objects: readonly K8sObject[], pods: readonly PodRun[]): ServiceRun[] {
  return objects
    .filter((o) => o.kind === 'Service')
    .map((service) => {
      const spec = service.spec as {
        selector?: Record<string, string>;
        ports: Array<{ port: number; targetPort?: number | string }>;
      };
      const selected = pods.filter((pod) => selectorMatches({ matchLabels: spec.selector ?? {} }, pod.labels));
      if (selected.length === 0) throw new Error(`Service/${service.metadata.name} selects no pod`);
      return {
        name: service.metadata.name,
        pods: selected.map((pod) => pod.name),
        ports: spec.ports.map(({ port, targetPort }) => ({
          port,
          targetPort: containerPort(selected[0] as PodRun, targetPort ?? port),
        })),
      };
    });
}

/** A port given by number or by the name of a container port. */
function containerPort(pod: Pick<PodRun, 'name' | 'ports'>, port: number | string): number {
  if (typeof port === 'number') return port;
  const found = pod.ports.find((p) => p.name === port);
  if (!found) throw new Error(`${pod.name} has no port named ${port}`);
  return found.containerPort;
}

type Lookup = (kind: 'Secret' | 'ConfigMap', name: string) => Record<string, string>;

/** A Secret's or ConfigMap's entries as plain text. */
function dataLookup(objects: readonly K8sObject[]): Lookup {
  return (kind, name) => {
    const found = objects.find((o) => o.kind === kind && o.metadata.name === name) as DataObject | undefined;
    if (!found) throw new Error(`${kind}/${name} is not in the manifests`);
    const data = Object.fromEntries(
      Object.entries(found.data ?? {}).map(([key, value]) =>
        kind === 'Secret' ? [key, Buffer.from(value, 'base64').toString('utf8')] : [key, value],
      ),
    );
    return { ...data, ...found.stringData };
  };
}

function podRun(workload: Workload, ordinal: number, lookup: Lookup, options: TranslateOptions): PodRun {
  const what = `${workload.kind}/${workload.metadata.name}`;
  const { spec: pod, metadata } = workload.spec.template;
  const [container, ...more] = pod.containers;
  if (!container || more.length > 0 || pod.initContainers?.length) {
    throw new Error(`${what}: only pods of exactly one container are translated`);
  }
  if (container.envFrom?.length) throw new Error(`${what}: envFrom is not translated`);
  const name = `${workload.metadata.name}-${ordinal}`;
  const env = environment(container.env ?? [], lookup, what);
  const grace = pod.terminationGracePeriodSeconds ?? 30;
  const mounts = mountFlags(workload, name, lookup, options);
  const flags = [
    // As in a pod: its hostname is its name (an account's registration names its instance by it).
    '--hostname',
    name,
    ...securityFlags(pod.securityContext ?? {}, container.securityContext ?? {}, what),
    ...Object.keys(env).flatMap((key) => ['--env', key]),
    ...mounts.flags,
    ...resourceFlags(container.resources?.limits ?? {}),
    ...(container.ports ?? []).flatMap((port) => ['--publish', `127.0.0.1::${port.containerPort}`]),
    '--stop-timeout',
    String(grace),
  ];
  const command = (container.command ?? []).map((word) => expand(word, env));
  const [entrypoint, ...commandArgs] = command;
  if (entrypoint !== undefined) flags.push('--entrypoint', entrypoint);
  return {
    name,
    workload: workload.metadata.name,
    labels: metadata.labels,
    image: container.image,
    flags,
    env,
    args: [...commandArgs, ...(container.args ?? []).map((word) => expand(word, env))],
    ports: container.ports ?? [],
    readiness: probe(container, what),
    volumes: mounts.volumes,
    terminationGraceSeconds: grace,
  };
}

/**
 * The container's volume mounts: a StatefulSet's claim as a named volume (one per pod, kept across
 * its containers), an emptyDir as a tmpfs, a ConfigMap or Secret as a read-only directory.
 */
function mountFlags(
  workload: Workload,
  podName: string,
  lookup: Lookup,
  options: TranslateOptions,
): { flags: string[]; volumes: PodRun['volumes'] } {
  const what = `${workload.kind}/${workload.metadata.name}`;
  const { spec: pod } = workload.spec.template;
  const flags: string[] = [];
  const volumes: PodRun['volumes'] = [];
  for (const mount of pod.containers[0]?.volumeMounts ?? []) {
    if (mount.subPath) throw new Error(`${what}: subPath mounts are not translated (mount the directory)`);
    const volume = pod.volumes?.find((v) => v.name === mount.name);
    const claim = workload.spec.volumeClaimTemplates?.find((c) => c.metadata.name === mount.name);
    if (claim) {
      // Named <claim>-<statefulset>-<ordinal>, as the StatefulSet names its PVC.
      const name = `${options.volumePrefix}-${mount.name}-${podName}`;
      volumes.push({ name, fsGroup: pod.securityContext?.fsGroup });
      flags.push('--volume', `${name}:${mount.mountPath}${mount.readOnly ? ':ro' : ''}`);
    } else if (volume?.emptyDir) {
      if (volume.emptyDir.medium && volume.emptyDir.medium !== 'Memory') throw new Error(`${what}: emptyDir medium`);
      const size = volume.emptyDir.sizeLimit ? `:size=${dockerBytes(volume.emptyDir.sizeLimit)}` : '';
      flags.push('--tmpfs', `${mount.mountPath}${size}`);
    } else if (volume?.configMap && !volume.configMap.items) {
      const dir = writeVolumeFiles(options.filesDir, 'ConfigMap', volume.configMap.name, lookup);
      flags.push('--volume', `${dir}:${mount.mountPath}:ro`);
    } else if (volume?.secret && !volume.secret.items) {
      const dir = writeVolumeFiles(options.filesDir, 'Secret', volume.secret.secretName, lookup);
      flags.push('--volume', `${dir}:${mount.mountPath}:ro`);
    } else {
      throw new Error(`${what}: the volume ${mount.name} is of a kind that is not translated`);
    }
  }
  return { flags, volumes };
}

/** The container's environment in order, each `$(NAME)` expanded from the variables before it. */
function environment(vars: EnvVar[], lookup: Lookup, what: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const { name, value, valueFrom } of vars) {
    if (value !== undefined) env[name] = expand(value, env);
    else if (valueFrom?.secretKeyRef) env[name] = entry(lookup, 'Secret', valueFrom.secretKeyRef);
    else if (valueFrom?.configMapKeyRef) env[name] = entry(lookup, 'ConfigMap', valueFrom.configMapKeyRef);
    else throw new Error(`${what}: env ${name} has a source that is not translated`);
  }
  return env;
}

function entry(lookup: Lookup, kind: 'Secret' | 'ConfigMap', { name, key }: KeyRef): string {
  const value = lookup(kind, name)[key];
  if (value === undefined) throw new Error(`${kind}/${name} has no key ${key}`);
  return value;
}

/** Kubernetes' `$(NAME)` expansion: a defined name is replaced, `$$` is a `$`, anything else stays. */
function expand(text: string, env: Record<string, string>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (match, name: string | undefined) =>
    name === undefined ? '$' : (env[name] ?? match),
  );
}

/** The pod's and the container's securityContext (the container's wins), as docker flags. */
function securityFlags(pod: SecurityContext, container: SecurityContext, what: string): string[] {
  const merged = { ...pod, ...container };
  const flags: string[] = [];
  if (merged.runAsUser === undefined) {
    if (merged.runAsNonRoot) throw new Error(`${what}: runAsNonRoot without runAsUser is not translated`);
  } else {
    if (merged.runAsNonRoot && merged.runAsUser === 0) throw new Error(`${what}: runAsNonRoot with runAsUser 0`);
    flags.push(
      '--user',
      merged.runAsGroup === undefined ? `${merged.runAsUser}` : `${merged.runAsUser}:${merged.runAsGroup}`,
    );
  }
  for (const group of [...(pod.supplementalGroups ?? []), ...(pod.fsGroup === undefined ? [] : [pod.fsGroup])]) {
    flags.push('--group-add', String(group));
  }
  if (merged.readOnlyRootFilesystem) flags.push('--read-only');
  if (merged.allowPrivilegeEscalation === false) flags.push('--security-opt', 'no-new-privileges');
  if (merged.privileged) flags.push('--privileged');
  for (const capability of merged.capabilities?.drop ?? []) flags.push('--cap-drop', capability);
  for (const capability of merged.capabilities?.add ?? []) flags.push('--cap-add', capability);
  // RuntimeDefault is what docker does anyway; anything else would need a profile file.
  const seccomp = merged.seccompProfile?.type;
  if (seccomp === 'Unconfined') flags.push('--security-opt', 'seccomp=unconfined');
  else if (seccomp !== undefined && seccomp !== 'RuntimeDefault') throw new Error(`${what}: seccomp ${seccomp}`);
  return flags;
}

function resourceFlags(limits: { cpu?: string; memory?: string }): string[] {
  const flags: string[] = [];
  if (limits.memory) flags.push('--memory', dockerBytes(limits.memory));
  if (limits.cpu) {
    const cpus = limits.cpu.endsWith('m') ? Number.parseInt(limits.cpu, 10) / 1000 : Number(limits.cpu);
    flags.push('--cpus', String(cpus));
  }
  return flags;
}

/** A Kubernetes quantity of bytes (`16Mi`, `1Gi`, `500M`) in docker's notation (bytes, or k/m/g = KiB/MiB/GiB). */
function dockerBytes(quantity: string): string {
  const match = /^(\d+)(Ki|Mi|Gi)?$/.exec(quantity);
  if (!match) throw new Error(`the quantity ${quantity} is not translated (use Ki, Mi or Gi)`);
  const unit = { Ki: 'k', Mi: 'm', Gi: 'g' }[match[2] ?? ''] ?? '';
  return `${match[1]}${unit}`;
}

function probe(container: Container, what: string): Probe {
  const readiness = container.readinessProbe;
  if (readiness?.httpGet) {
    const port = containerPort({ name: what, ports: container.ports ?? [] }, readiness.httpGet.port);
    return { httpGet: { path: readiness.httpGet.path, port } };
  }
  if (readiness?.exec) return { exec: readiness.exec.command };
  throw new Error(`${what}: no httpGet or exec readinessProbe to tell when it is ready`);
}

/**
 * A ConfigMap's or Secret's entries as files in a directory of their own, readable by any user (as
 * the kubelet's default mode 0644 makes them). The directory is mounted, not each file: a file
 * mounted into a directory the user may not enter fails.
 */
function writeVolumeFiles(filesDir: string, kind: 'Secret' | 'ConfigMap', name: string, lookup: Lookup): string {
  const dir = join(filesDir, `${kind.toLowerCase()}-${name}`);
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  for (const [key, value] of Object.entries(lookup(kind, name))) {
    writeFileSync(join(dir, key), value, { mode: 0o644 });
  }
  return dir;
}
