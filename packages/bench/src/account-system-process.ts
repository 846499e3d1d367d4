/** account-system's built bundle run as a real process, as Kubernetes runs it: `node main.mjs`. */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import http from 'node:http';
import { createInterface } from 'node:readline';

export interface AccountSystemProcess {
  child: ChildProcess;
  port: number;
  /** Resolves once the service has logged a line with this `msg`. */
  logged(msg: string, timeoutMs: number): Promise<void>;
  /** SIGTERM, then wait for the exit. */
  stop(): Promise<void>;
}

/**
 * How often readiness is asked while the service replays. Each ask costs the service and this
 * machine's two cores some CPU, so it is asked at once when the service logs that it is ready,
 * and otherwise only this often: a figure is at most one ask late either way.
 */
const READY_POLL_MS = 25;

/**
 * Spawns the bundle and resolves once `/readyz` answers 200, with the ms that took from spawn.
 * The port comes from the service's `listening` log line (PORT=0).
 */
export async function startAccountSystem(
  bundle: string,
  redisUrl: string,
): Promise<{ service: AccountSystemProcess; readyMs: number }> {
  const started = performance.now();
  const child = spawn(process.execPath, [bundle], {
    env: { PATH: process.env.PATH ?? '', REDIS_URL: redisUrl, PORT: '0', LOG_LEVEL: 'info' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = once(child, 'exit');
  const output: string[] = [];
  const messages = new Set<string>();
  const onMessage = new Set<() => void>();
  const logged = (msg: string, timeoutMs: number) =>
    new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        onMessage.delete(check);
        reject(new Error(`account-system did not log "${msg}" within ${timeoutMs} ms`));
      }, timeoutMs);
      const check = () => {
        if (!messages.has(msg)) return;
        clearTimeout(timer);
        onMessage.delete(check);
        resolve();
      };
      onMessage.add(check);
      check();
    });
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
  };
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
      lines.on('line', (line) => {
        if (output.length < 20) output.push(line);
        const msg = /"msg":"([^"]*)"/.exec(line)?.[1];
        if (msg === undefined) return;
        messages.add(msg);
        for (const check of onMessage) check();
        if (msg !== 'listening') return;
        const port = Number((JSON.parse(line) as { port?: unknown }).port);
        if (Number.isInteger(port)) resolve(port);
      });
      child.stderr?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
      void exited.then(() => reject(new Error(`account-system exited before listening:\n${output.join('\n')}`)));
    });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      while ((await status(port, '/readyz', agent)) !== 200) {
        if (child.exitCode !== null) throw new Error(`account-system exited before ready:\n${output.join('\n')}`);
        await logged('caught up; ready', READY_POLL_MS).catch(() => {});
      }
    } finally {
      agent.destroy();
    }
    return { service: { child, port, logged, stop }, readyMs: performance.now() - started };
  } catch (error) {
    await stop();
    throw error;
  }
}

function status(port: number, path: string, agent: http.Agent): Promise<number> {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: '127.0.0.1', port, path, agent }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
    });
    request.on('error', reject);
  });
}
