/** The local stack run as a child process (by the end-to-end tests and the chaos check), on a data dir of the caller's. */
import { type NodeProcess, spawnNode } from '@microbank/processes';
import { readPlan, type StackPlan } from './stack-plan.ts';

export interface StackProcess {
  process: NodeProcess;
  /** Where everything runs: free ports unless the caller gave others. */
  plan: StackPlan;
  /** SIGTERM, and the exit code. */
  stop(): Promise<number | null>;
}

/**
 * Starts the stack on free ports (unless `env` says otherwise) and resolves once it prints that it
 * is up; fails with its last output otherwise.
 */
export async function startStackProcess(
  dataDir: string,
  {
    timeoutMs = 90_000,
    env = {},
    args = [],
  }: { timeoutMs?: number; env?: Record<string, string> /** e.g. `--cluster` */; args?: string[] } = {},
): Promise<StackProcess> {
  const stack = spawnNode('tools/local-stack/src/main.ts', {
    args,
    inheritEnv: true,
    env: { MICROBANK_PORT_BASE: '0', MICROBANK_REDIS_PORT: '0', ...env, MICROBANK_DATA_DIR: dataDir },
  });
  const stop = async () => (await stack.stop({ graceMs: 30_000 })).code;
  try {
    await stack.waitForLine('the stack to be up', (line) => line.includes('microbank is up'), timeoutMs);
  } catch (error) {
    await stop();
    throw error;
  }
  const plan = readPlan(dataDir);
  if (!plan) throw new Error(`the stack is up but wrote no plan into ${dataDir}`);
  return { process: stack, plan, stop };
}
