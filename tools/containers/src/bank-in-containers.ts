/**
 * The bank of the rendered manifests on a Docker engine, the way a cluster would run it: a network of
 * its own, a named volume per StatefulSet claim, a container per pod (as pod-runs.ts translates it)
 * and, per Service, a forwarder container under the Service's name, so the manifests' URLs resolve
 * and their ports lead to the pods' ports. Everything carries one label and is removed by it.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { K8sObject } from '@microbank/k8s-tools';
import { REPO_ROOT, waitFor } from '@microbank/processes';
import { docker, dockerSucceeds } from './docker.ts';
import { type PodRun, podRuns, type ServiceRun, serviceRuns } from './pod-runs.ts';

const LABEL = 'microbank.container-bank';
const FORWARDER_DIR = join(REPO_ROOT, 'tools/containers/src/service-forwarder');

export interface ContainerBank {
  /** Prefix of every container, network and volume name of this run; also its label's value. */
  id: string;
  network: string;
  pods: PodRun[];
  services: ServiceRun[];
  /** The image each pod runs: the manifest's, or what `imageFor` put in its place. */
  imageOf(pod: PodRun): string;
  filesDir: string;
}

export interface BankOptions {
  /** The local image for a manifest's image (e.g. a Redis stand-in); default: the manifest's own. */
  imageFor?: (pod: PodRun) => string;
  /** The image that runs the Service forwarders: any image with Node 22.18 or later. */
  forwarderImage: string;
}

/** The network, the volumes and the Services of the manifests; the pods are started with `runPod`. */
export async function createContainerBank(objects: readonly K8sObject[], options: BankOptions): Promise<ContainerBank> {
  const id = `microbank-${randomBytes(3).toString('hex')}`;
  const filesDir = mkdtempSync(join(tmpdir(), `${id}-files-`));
  const pods = podRuns(objects, { filesDir, volumePrefix: id });
  const bank: ContainerBank = {
    id,
    network: id,
    pods,
    services: serviceRuns(objects, pods),
    imageOf: (pod) => options.imageFor?.(pod) ?? pod.image,
    filesDir,
  };
  try {
    await docker(['network', 'create', '--label', `${LABEL}=${id}`, bank.network]);
    for (const pod of pods) for (const volume of pod.volumes) await createVolume(bank, pod, volume);
    await Promise.all(bank.services.map((service) => startForwarder(bank, service, options.forwarderImage)));
  } catch (error) {
    await removeContainerBank(bank);
    throw error;
  }
  return bank;
}

export function podNamed(bank: ContainerBank, name: string): PodRun {
  const pod = bank.pods.find((p) => p.name === name);
  if (!pod) throw new Error(`no pod ${name}; the pods: ${bank.pods.map((p) => p.name).join(', ')}`);
  return pod;
}

export function containerOf(bank: ContainerBank, podName: string): string {
  return `${bank.id}-${podName}`;
}

/** `docker run` of the pod's translation; the pod's name is its alias on the network. */
export async function runPod(bank: ContainerBank, pod: PodRun): Promise<void> {
  const name = containerOf(bank, pod.name);
  await docker(
    [
      'run',
      '--detach',
      '--pull',
      'never',
      '--name',
      name,
      '--label',
      `${LABEL}=${bank.id}`,
      '--network',
      bank.network,
      '--network-alias',
      pod.name,
      ...pod.flags,
      bank.imageOf(pod),
      ...pod.args,
    ],
    { env: pod.env },
  );
}

/** What the engine says of a pod's container: whether it runs (or how it exited), and its published ports. */
interface PodState {
  status: string;
  exitCode: number;
  /** `8080/tcp` -> `127.0.0.1:32771` */
  published: Record<string, string>;
}

async function inspectPods(bank: ContainerBank, pods: readonly PodRun[]): Promise<PodState[]> {
  const containers = pods.map((pod) => containerOf(bank, pod.name));
  const lines = await docker([
    'inspect',
    '--format',
    '{{json .State}}\t{{json .NetworkSettings.Ports}}',
    ...containers,
  ]);
  return lines.split('\n').map((line) => {
    const [state, ports] = line.split('\t');
    const { Status, ExitCode } = JSON.parse(state ?? '{}') as { Status: string; ExitCode: number };
    const bindings = (JSON.parse(ports ?? 'null') ?? {}) as Record<string, Array<{ HostIp: string; HostPort: string }>>;
    const published: Record<string, string> = {};
    for (const [port, [first] = []] of Object.entries(bindings)) {
      if (first) published[port] = `${first.HostIp}:${first.HostPort}`;
    }
    return { status: Status, exitCode: ExitCode, published };
  });
}

/** The pod's readiness probe, once: an HTTP GET on its published port, or its command by `docker exec`. */
async function probeReady(bank: ContainerBank, pod: PodRun, state: PodState): Promise<boolean> {
  if (state.status !== 'running') return false;
  if ('exec' in pod.readiness) return dockerSucceeds(['exec', containerOf(bank, pod.name), ...pod.readiness.exec]);
  const { path, port } = pod.readiness.httpGet;
  const response = await fetch(`http://${state.published[`${port}/tcp`]}${path}`, {
    signal: AbortSignal.timeout(2_000),
  });
  await response.arrayBuffer();
  return response.status >= 200 && response.status < 400;
}

/**
 * Waits for every pod's readiness probe. Gives up at once when a container exited (no kubelet
 * restarts it here); either way the error says which pods were not ready and what they printed.
 */
export async function untilReady(bank: ContainerBank, pods: readonly PodRun[], timeoutMs = 120_000): Promise<void> {
  let exited: string | undefined;
  const notReady = async () => {
    const states = await inspectPods(bank, pods);
    const ready = await Promise.all(
      pods.map((pod, i) => probeReady(bank, pod, states[i] as PodState).catch(() => false)),
    );
    const gone = pods.flatMap((pod, i) =>
      states[i]?.status === 'exited' ? [`${pod.name} exited with code ${states[i]?.exitCode}`] : [],
    );
    if (gone.length > 0) exited = gone.join(', ');
    return pods.filter((_, i) => !ready[i]).map((pod) => pod.name);
  };
  try {
    await waitFor('every pod to be ready', notReady, (names) => names.length === 0, {
      timeoutMs,
      intervalMs: 250,
      giveUp: () => exited,
    });
  } catch (error) {
    const names = await notReady().catch(() => pods.map((pod) => pod.name));
    const logs = await Promise.all(names.map(async (name) => `--- ${name}:\n${await podLogs(bank, name)}`));
    throw new Error(`${(error as Error).message}\n${logs.join('\n')}`);
  }
}

/** SIGKILL, as a node dying would; then the container is removed so a new pod can take its name. */
export async function killPod(bank: ContainerBank, pod: PodRun): Promise<number> {
  const container = containerOf(bank, pod.name);
  await docker(['kill', '--signal', 'KILL', container]);
  const exitCode = Number(await docker(['wait', container]));
  await docker(['rm', container]);
  return exitCode;
}

/** `docker stop`: SIGTERM, SIGKILL after the pod's termination grace period; how it exited and how fast. */
export async function stopPod(bank: ContainerBank, pod: PodRun): Promise<{ exitCode: number; seconds: number }> {
  const container = containerOf(bank, pod.name);
  const started = Date.now();
  await docker(['stop', container], { timeoutMs: (pod.terminationGraceSeconds + 30) * 1000 });
  const seconds = (Date.now() - started) / 1000;
  return { exitCode: Number(await docker(['inspect', '--format', '{{.State.ExitCode}}', container])), seconds };
}

/** `127.0.0.1:<port>` where a Service's port is published on this machine, like a NodePort. */
export async function serviceAddress(bank: ContainerBank, service: string, port = 80): Promise<string> {
  return publishedAddress(`${bank.id}-svc-${service}`, port);
}

/** The last lines the pod's container printed, stdout and stderr. */
async function podLogs(bank: ContainerBank, podName: string, lines = 20): Promise<string> {
  return docker(['logs', '--tail', String(lines), containerOf(bank, podName)], { withStderr: true }).catch(
    (error: Error) => error.message,
  );
}

/** Every container, the network and the volumes of this bank, and the files written for its mounts. */
export async function removeContainerBank(bank: ContainerBank): Promise<void> {
  const filter = `label=${LABEL}=${bank.id}`;
  const containers = (await docker(['ps', '--all', '--quiet', '--filter', filter])).split('\n').filter(Boolean);
  if (containers.length > 0) await docker(['rm', '--force', '--volumes', ...containers]);
  await docker(['network', 'rm', bank.network]).catch(() => {});
  const volumes = (await docker(['volume', 'ls', '--quiet', '--filter', filter])).split('\n').filter(Boolean);
  if (volumes.length > 0) await docker(['volume', 'rm', ...volumes]);
  rmSync(bank.filesDir, { recursive: true, force: true });
}

async function publishedAddress(container: string, port: number): Promise<string> {
  const address = (await docker(['port', container, `${port}/tcp`])).split('\n')[0];
  if (!address) throw new Error(`${container} publishes no port ${port}`);
  return address;
}

/**
 * A new claim's volume, made writable for the pod's fsGroup as the kubelet does (group, setgid,
 * group-writable), by a throwaway root container of the pod's own image.
 */
async function createVolume(bank: ContainerBank, pod: PodRun, volume: PodRun['volumes'][number]): Promise<void> {
  await docker(['volume', 'create', '--label', `${LABEL}=${bank.id}`, volume.name]);
  if (volume.fsGroup === undefined) return;
  await docker([
    'run',
    '--rm',
    '--pull',
    'never',
    '--user',
    '0:0',
    '--network',
    'none',
    '--volume',
    `${volume.name}:/volume`,
    '--entrypoint',
    'sh',
    bank.imageOf(pod),
    '-c',
    `chgrp ${volume.fsGroup} /volume && chmod g+rwxs /volume`,
  ]);
}

/** The Service's stand-in: same name on the network, its ports forwarded to its pods, published on 127.0.0.1. */
async function startForwarder(bank: ContainerBank, service: ServiceRun, image: string): Promise<void> {
  const routes = service.ports.map(({ port, targetPort }) => `${port}=${service.pods.join(',')}:${targetPort}`);
  await docker([
    'run',
    '--detach',
    '--pull',
    'never',
    '--name',
    `${bank.id}-svc-${service.name}`,
    '--label',
    `${LABEL}=${bank.id}`,
    '--network',
    bank.network,
    '--network-alias',
    service.name,
    ...service.ports.flatMap(({ port }) => ['--publish', `127.0.0.1::${port}`]),
    '--read-only',
    '--user',
    '1000:1000',
    // Port 80 for a user who is not root (docker's default since 20.10; said here for other engines).
    '--sysctl',
    'net.ipv4.ip_unprivileged_port_start=0',
    '--cap-drop',
    'ALL',
    '--security-opt',
    'no-new-privileges',
    '--volume',
    `${FORWARDER_DIR}:/forwarder:ro`,
    '--entrypoint',
    'node',
    image,
    '/forwarder/service-forwarder.ts',
    ...routes,
  ]);
}
