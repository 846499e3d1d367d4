/** The docker CLI as the container tests use it: arguments in, trimmed stdout out, stderr in the error. */
import { execFile } from 'node:child_process';

export interface DockerOptions {
  /** Variables for the CLI's environment, e.g. the values of `--env NAME` flags (kept out of argv). */
  env?: Record<string, string>;
  timeoutMs?: number;
  /** Answer stderr too, after stdout (`docker logs` replays a container's stderr on its own). */
  withStderr?: boolean;
}

export function docker(args: string[], { env, timeoutMs = 60_000, withStderr }: DockerOptions = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'docker',
      args,
      { env: { ...process.env, ...env }, timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (!error) return resolve((withStderr ? `${stdout}${stderr}` : stdout).trim());
        const output = `${stdout}${stderr}`.trim().split('\n').slice(-30).join('\n');
        reject(new Error(`docker ${args.slice(0, 2).join(' ')} failed (${error.message.split('\n')[0]}):\n${output}`));
      },
    );
  });
}

/** Exit status 0 or not, for commands whose failure is an answer (an exec probe, a missing image). */
export async function dockerSucceeds(args: string[]): Promise<boolean> {
  return docker(args).then(
    () => true,
    () => false,
  );
}

export function imageExists(image: string): Promise<boolean> {
  return dockerSucceeds(['image', 'inspect', image]);
}
