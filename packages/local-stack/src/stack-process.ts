/** The local stack run as a child process (by the end-to-end test and the chaos check), on a data dir of the caller's. */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { setTimeout as sleep } from 'node:timers/promises';
import { REPO_ROOT } from './stack-plan.ts';

export interface StackProcess {
  child: ChildProcess;
  /** Every line the stack printed so far. */
  output: string[];
  /** SIGTERM, and the exit code. */
  stop(): Promise<number | null>;
}

/** Starts the stack and resolves once it prints that it is up; fails with its last output otherwise. */
export async function startStackProcess(dataDir: string, timeoutMs = 60_000): Promise<StackProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'packages/local-stack/src/main.ts'], {
    cwd: REPO_ROOT,
    env: { ...process.env, MICROBANK_DATA_DIR: dataDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output: string[] = [];
  for (const stream of [child.stdout, child.stderr])
    createInterface({ input: stream }).on('line', (line) => output.push(line));
  const stop = async () => {
    if (child.exitCode !== null) return child.exitCode;
    child.kill('SIGTERM');
    const [code] = await once(child, 'exit');
    return code as number | null;
  };
  const deadline = Date.now() + timeoutMs;
  while (!output.some((line) => line.includes('microbank is up'))) {
    const why =
      child.exitCode !== null
        ? `exited with ${child.exitCode}`
        : Date.now() > deadline
          ? 'was not up in time'
          : undefined;
    if (why) {
      await stop();
      throw new Error(`the stack ${why}; its last output:\n${output.slice(-20).join('\n')}`);
    }
    await sleep(50);
  }
  return { child, output, stop };
}
