/**
 * What the local stack runs and where: the laptop's version of `kubectl apply -k k8s`. The ports
 * default to the README's (Redis 6380, services 8081-8086) and move together with
 * MICROBANK_PORT_BASE / MICROBANK_REDIS_PORT; 0 picks free ports, as the tests do.
 * MICROBANK_EXTRA_ACCOUNTS adds accounts (account-1, account-2, ...) beside john and mary, for
 * load runs. A running stack writes its plan into its data dir, so `pnpm kill`, `pnpm chaos` and
 * the tests find it.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '@microbank/processes';
import { freePort } from '@microbank/redis-runner';

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
  redisPort: number;
  redisUrl: string;
  /** In start order: john-account before mary-account, as the seed's body lists them. */
  services: ServiceSpec[];
}

export interface StackSettings {
  dataDir: string;
  /** Each service listens on portBase + its offset; 0: every port a free one. */
  portBase: number;
  /** 0: a free one. */
  redisPort: number;
  /** Accounts beyond john and mary: account-1 to account-<n>. */
  extraAccounts: number;
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

export class SettingsError extends Error {}

/** The stack's settings from the environment; a bad value is named. */
export function stackSettings(env: Record<string, string | undefined> = process.env): StackSettings {
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
  return {
    dataDir: env.MICROBANK_DATA_DIR || join(REPO_ROOT, '.data'),
    portBase: port('MICROBANK_PORT_BASE', DEFAULT_PORT_BASE, 65535 - EXTRA_ACCOUNTS_OFFSET - MAX_EXTRA_ACCOUNTS),
    redisPort: port('MICROBANK_REDIS_PORT', DEFAULT_REDIS_PORT, 65535),
    extraAccounts: count('MICROBANK_EXTRA_ACCOUNTS', MAX_EXTRA_ACCOUNTS),
  };
}

export async function planStack(settings: StackSettings): Promise<StackPlan> {
  const portOf = async (offset: number) => (settings.portBase === 0 ? freePort() : settings.portBase + offset);
  const redisPort = settings.redisPort === 0 ? await freePort() : settings.redisPort;
  const redisUrl = `redis://127.0.0.1:${redisPort}`;
  const service = (name: string, program: Program, port: number, env: Record<string, string> = {}): ServiceSpec => ({
    name,
    program,
    port,
    env: { REDIS_URL: redisUrl, PORT: String(port), ...env },
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
    services: [
      service('account-system', 'account-system', await portOf(PORT_OFFSETS['account-system'])),
      service('balance', 'balance', await portOf(PORT_OFFSETS.balance)),
      await account('john-account', PORT_OFFSETS['john-account']),
      await account('mary-account', PORT_OFFSETS['mary-account']),
      ...extras,
    ],
  };
  // The bank makes each account's opening issuance (no account process can create money); both
  // replicas are told, and each issuance happens once whoever makes it first.
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

/** Every component of a plan, Redis first: what `pnpm kill` and `pnpm chaos` take. */
export function componentsOf(plan: StackPlan): string[] {
  return ['redis', ...plan.services.map((spec) => spec.name)];
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
