/**
 * What the local stack runs and where: the laptop's version of `kubectl apply -k k8s`. The ports
 * default to the README's (Redis 6380, services 8081-8086) and move together with
 * MICROBANK_PORT_BASE / MICROBANK_REDIS_PORT; 0 picks free ports, as the tests do.
 * MICROBANK_EXTRA_ACCOUNTS adds accounts (account-1, account-2, ...) beside john and mary, for
 * load runs. With `--cluster` the stack runs a Redis Cluster of 3 primaries × 2 replicas instead of
 * one Redis: nodes redis-1 to redis-9 on MICROBANK_REDIS_PORT and the eight ports after it (their
 * cluster bus 10000 above), each node then keeping the ports its nodes.conf records. A running
 * stack writes its plan into its data dir, so `pnpm kill`, `pnpm chaos` and the tests find it.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '@microbank/processes';
import {
  type ClusterNodeSpec,
  type ClusterShape,
  DEFAULT_NODE_TIMEOUT_MS,
  freePort,
  planClusterNodes,
} from '@microbank/redis-runner';

/** The program a service runs: its bundle is packages/<program>/dist/main.mjs. */
export type Program = 'account' | 'account-system' | 'balance' | 'transfer' | 'dashboard';

export interface ServiceSpec {
  /** The component's name, as `pnpm kill` takes it. */
  name: string;
  program: Program;
  port: number;
  env: Record<string, string>;
}

export interface StackPlan {
  dataDir: string;
  /** The single Redis's port; on a cluster, the first node's. */
  redisPort: number;
  /** What the services get as REDIS_URL: on a cluster, every node as a seed, comma-separated. */
  redisUrl: string;
  /** With `pnpm start --cluster`: the Redis Cluster the stack runs instead of one Redis. */
  redisCluster?: StackCluster;
  /** In start order: john-account before mary-account, as the seed's body lists them. */
  services: ServiceSpec[];
}

export interface StackCluster extends ClusterShape {
  nodeTimeoutMs: number;
  nodes: ClusterNodeSpec[];
}

export interface StackSettings {
  dataDir: string;
  /** Each service listens on portBase + its offset; 0: every port a free one. */
  portBase: number;
  /** 0: a free one. */
  redisPort: number;
  /** Accounts beyond john and mary: account-1 to account-<n>. */
  extraAccounts: number;
  /** Present with `--cluster`: a Redis Cluster of 3 primaries × 2 replicas instead of one Redis. */
  cluster?: { nodeTimeoutMs: number };
}

export const DEFAULT_PORT_BASE = 8080;
export const DEFAULT_REDIS_PORT = 6380;

/** Each service's port is the base plus this; extra account n (from 1) is on the base + 9 + n. */
const PORT_OFFSETS = {
  dashboard: 0,
  'account-system': 1,
  balance: 2,
  'john-account': 3,
  'mary-account': 4,
  'transfer-1': 5,
  'transfer-2': 6,
} as const;
const EXTRA_ACCOUNTS_OFFSET = 9;
/** The opening issuance of each of the stack's accounts: what the bank issues it (`ISSUANCE`). */
export const ISSUANCE_PER_ACCOUNT = 100;
const MAX_EXTRA_ACCOUNTS = 100;
/** The local cluster: each primary with two replicas, so one can be killed while the other still confirms writes. */
export const STACK_CLUSTER_SHAPE: ClusterShape = { primaries: 3, replicasPerPrimary: 2 };

export class SettingsError extends Error {}

/**
 * The stack's settings from the environment; a bad value is named. With `cluster`,
 * MICROBANK_CLUSTER_NODE_TIMEOUT_MS sets the nodes' cluster-node-timeout (default 5000; tests use less).
 */
export function stackSettings(
  env: Record<string, string | undefined> = process.env,
  { cluster = false }: { cluster?: boolean } = {},
): StackSettings {
  const port = (name: string, fallback: number, max: number) => {
    const value = env[name];
    if (value === undefined || value === '') return fallback;
    if (!/^\d{1,5}$/.test(value) || Number(value) > max) {
      throw new SettingsError(`${name} must be a port number 0-${max} (got ${JSON.stringify(value.slice(0, 40))})`);
    }
    return Number(value);
  };
  const count = (name: string, max: number) => {
    const value = env[name];
    if (value === undefined || value === '') return 0;
    if (!/^\d{1,3}$/.test(value) || Number(value) > max) {
      throw new SettingsError(`${name} must be a whole number 0-${max} (got ${JSON.stringify(value.slice(0, 40))})`);
    }
    return Number(value);
  };
  const settings: StackSettings = {
    dataDir: env.MICROBANK_DATA_DIR || join(REPO_ROOT, '.data'),
    portBase: port('MICROBANK_PORT_BASE', DEFAULT_PORT_BASE, 65535 - EXTRA_ACCOUNTS_OFFSET - MAX_EXTRA_ACCOUNTS),
    redisPort: port('MICROBANK_REDIS_PORT', DEFAULT_REDIS_PORT, 65535),
    extraAccounts: count('MICROBANK_EXTRA_ACCOUNTS', MAX_EXTRA_ACCOUNTS),
  };
  if (cluster) {
    const value = env.MICROBANK_CLUSTER_NODE_TIMEOUT_MS;
    let nodeTimeoutMs = DEFAULT_NODE_TIMEOUT_MS;
    if (value !== undefined && value !== '') {
      if (!/^\d{3,6}$/.test(value) || Number(value) < 100 || Number(value) > 120_000) {
        throw new SettingsError(
          `MICROBANK_CLUSTER_NODE_TIMEOUT_MS must be milliseconds 100-120000 (got ${JSON.stringify(value.slice(0, 40))})`,
        );
      }
      nodeTimeoutMs = Number(value);
    }
    settings.cluster = { nodeTimeoutMs };
  }
  return settings;
}

/** Where the nodes of the stack's cluster keep their data: one dir each, apart from the single Redis's. */
export const clusterDir = (dataDir: string) => join(dataDir, 'redis-cluster');

export async function planStack(settings: StackSettings): Promise<StackPlan> {
  // freePort's picks are each free when asked, then let go: two may be the same port. The plan's
  // own picks never repeat.
  const taken = new Set<number>();
  const pick = async () => {
    for (;;) {
      const port = await freePort();
      if (taken.has(port)) continue;
      taken.add(port);
      return port;
    }
  };
  const portOf = async (offset: number) => (settings.portBase === 0 ? pick() : settings.portBase + offset);
  let redisCluster: StackCluster | undefined;
  let redisPort: number;
  let redisUrl: string;
  // What every service is told of Redis (the settings contract of packages/service-runtime).
  let redisEnv: Record<string, string>;
  if (settings.cluster) {
    const count = STACK_CLUSTER_SHAPE.primaries * (1 + STACK_CLUSTER_SHAPE.replicasPerPrimary);
    const nodes = await planClusterNodes(clusterDir(settings.dataDir), count, settings.redisPort);
    redisCluster = { ...STACK_CLUSTER_SHAPE, nodeTimeoutMs: settings.cluster.nodeTimeoutMs, nodes };
    redisPort = (nodes[0] as ClusterNodeSpec).port;
    for (const node of nodes) taken.add(node.port);
    // Every node is a seed: the client finds the cluster through whichever answers.
    redisUrl = nodes.map((node) => `redis://127.0.0.1:${node.port}`).join(',');
    redisEnv = { REDIS_URL: redisUrl, REDIS_CLUSTER: 'true', REDIS_CONFIRM_REPLICAS: '1' };
  } else {
    redisPort = settings.redisPort === 0 ? await pick() : settings.redisPort;
    taken.add(redisPort);
    redisUrl = `redis://127.0.0.1:${redisPort}`;
    redisEnv = { REDIS_URL: redisUrl };
  }
  const service = (name: string, program: Program, port: number, env: Record<string, string> = {}): ServiceSpec => ({
    name,
    program,
    port,
    env: { ...redisEnv, PORT: String(port), ...env },
  });
  const account = async (name: string, offset: number) => {
    const port = await portOf(offset);
    return service(name, 'account', port, { ACCOUNT_NAME: name, ACCOUNT_URL: `http://127.0.0.1:${port}` });
  };
  const extras: ServiceSpec[] = [];
  for (let n = 1; n <= settings.extraAccounts; n++)
    extras.push(await account(`account-${n}`, EXTRA_ACCOUNTS_OFFSET + n));
  const plan: StackPlan = {
    dataDir: settings.dataDir,
    redisPort,
    redisUrl,
    ...(redisCluster && { redisCluster }),
    services: [
      service('account-system', 'account-system', await portOf(PORT_OFFSETS['account-system'])),
      service('balance', 'balance', await portOf(PORT_OFFSETS.balance)),
      await account('john-account', PORT_OFFSETS['john-account']),
      await account('mary-account', PORT_OFFSETS['mary-account']),
      ...extras,
    ],
  };
  // The bank makes each account's opening issuance (no account process can create money); both
  // instances are told, and each issuance happens once whoever makes it first.
  const issuance = accountsOf(plan)
    .map((account) => `${account}=${ISSUANCE_PER_ACCOUNT}`)
    .join(',');
  for (const name of ['transfer-1', 'transfer-2'] as const) {
    plan.services.push(service(name, 'transfer', await portOf(PORT_OFFSETS[name]), { ISSUANCE: issuance }));
  }
  // The dashboard watches every other service and makes transfers through transfer-1.
  const watched = plan.services.map((spec) => `${spec.name}=${serviceUrl(plan, spec.name)}`).join(',');
  plan.services.push(
    service('dashboard', 'dashboard', await portOf(PORT_OFFSETS.dashboard), {
      WATCH: watched,
      TRANSFER_URL: serviceUrl(plan, 'transfer-1'),
    }),
  );
  return plan;
}

/** Every component of a plan, Redis first (each node of a cluster): what `pnpm kill` and `pnpm chaos` take. */
export function componentsOf(plan: StackPlan): string[] {
  return [...redisComponentsOf(plan), ...plan.services.map((spec) => spec.name)];
}

/** `redis`, or the cluster's nodes: `redis-1` ... `redis-9`. */
export function redisComponentsOf(plan: StackPlan): string[] {
  return plan.redisCluster ? plan.redisCluster.nodes.map((node) => node.name) : ['redis'];
}

/** The names of the stack's accounts, john and mary first. */
export function accountsOf(plan: StackPlan): string[] {
  return plan.services.filter((spec) => spec.program === 'account').map((spec) => spec.name);
}

/** The local address of a service of the stack, e.g. serviceUrl(plan, 'account-system', '/accounts'). */
export function serviceUrl(plan: StackPlan, name: string, path = ''): string {
  const spec = plan.services.find((candidate) => candidate.name === name);
  if (!spec) throw new Error(`the stack runs no service named ${name}`);
  return `http://127.0.0.1:${spec.port}${path}`;
}

const planFile = (dataDir: string) => join(dataDir, 'stack', 'plan.json');

export function writePlan(plan: StackPlan): void {
  mkdirSync(join(plan.dataDir, 'stack'), { recursive: true });
  writeFileSync(planFile(plan.dataDir), `${JSON.stringify(plan, null, 2)}\n`);
}

/** The plan of the stack that runs (or last ran) on `dataDir`, or undefined. */
export function readPlan(dataDir: string): StackPlan | undefined {
  try {
    return JSON.parse(readFileSync(planFile(dataDir), 'utf8')) as StackPlan;
  } catch {
    return undefined;
  }
}
