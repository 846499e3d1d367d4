/** What the local stack runs, on which ports: the laptop's version of `kubectl apply -k k8s`. */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url));

export const REDIS_PORT = 6380;

export interface ServiceSpec {
  /** The component's name, as `pnpm kill` takes it. */
  name: string;
  port: number;
  /** The service's main module, relative to the repo root. */
  main: string;
  env: Record<string, string>;
}

export const COMPONENTS = ['redis', 'account-system', 'balance', 'john-account', 'mary-account'] as const;
export type Component = (typeof COMPONENTS)[number];

export function isComponent(name: string): name is Component {
  return (COMPONENTS as readonly string[]).includes(name);
}

/** The data dir: `.data/` in the repo, or MICROBANK_DATA_DIR (the end-to-end test uses a temporary one). */
export function dataDir(env: Record<string, string | undefined> = process.env): string {
  return env.MICROBANK_DATA_DIR || join(REPO_ROOT, '.data');
}

export function services(): ServiceSpec[] {
  const redisUrl = `redis://127.0.0.1:${REDIS_PORT}`;
  const service = (name: string, port: number, main: string, env: Record<string, string> = {}): ServiceSpec => ({
    name,
    port,
    main,
    env: { REDIS_URL: redisUrl, PORT: String(port), ...env },
  });
  const account = (name: string, port: number) =>
    service(name, port, 'packages/account/src/main.ts', {
      ACCOUNT_NAME: name,
      ACCOUNT_URL: `http://127.0.0.1:${port}`,
    });
  return [
    service('account-system', 8081, 'packages/account-system/src/main.ts'),
    service('balance', 8082, 'packages/balance/src/main.ts'),
    account('john-account', 8083),
    account('mary-account', 8084),
  ];
}

/** The local address of a service of the stack, e.g. serviceUrl('account-system', '/accounts'). */
export function serviceUrl(name: string, path = ''): string {
  const spec = services().find((candidate) => candidate.name === name);
  if (!spec) throw new Error(`the stack runs no service named ${name}`);
  return `http://127.0.0.1:${spec.port}${path}`;
}
