/** Runs a real redis-server process: free port, own data dir, SIGKILL and restart on the same data. */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

const STOP_GRACE_MS = 15_000;

export interface RedisServerOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  dataDir: string;
  /** `always` survives the loss of the machine; `everysec` is for throwaway test servers. */
  appendfsync?: 'always' | 'everysec';
  /** Receives each line redis-server prints. */
  onOutput?: (line: string) => void;
  /** More redis-server arguments (e.g. cluster mode). */
  extraArgs?: string[];
}

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  readonly dataDir: string;
  /** PID of the current process (or a `container:<id>` handle for the Docker path). */
  readonly handle: string;
  /** Resolves when the current process exits, for whatever reason. */
  readonly exited: Promise<void>;
  /** SIGKILL, then wait for the exit: no shutdown, no final fsync. */
  kill(): Promise<void>;
  /** Starts again on the same port and data dir; resolves once it answers PING. */
  restart(): Promise<void>;
  /** SIGTERM: Redis fsyncs its AOF and exits. */
  stop(): Promise<void>;
}

/**
 * A free port for a server started later (a test's Redis that a service already looks for), from
 * below the range the kernel hands out for `PORT=0` listeners and outgoing connections
 * (`ip_local_port_range`, 32768-60999 on Linux by default), above the local stack's ports. A port
 * from freePort() may be taken in between: by another process's listener on port 0, or by the
 * service's own retries, whose outgoing connection to a port of that range with nothing listening
 * can take it as its source port and connect to itself.
 */
export async function portForLater(): Promise<number> {
  const ephemeralFrom = Number(
    (await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').catch(() => '32768')).trim().split(/\s+/)[0],
  );
  const top = Math.min(Number.isFinite(ephemeralFrom) ? ephemeralFrom : 32768, 32768) - 1;
  const bottom = 20_000;
  if (top < bottom)
    throw new Error(`the kernel hands out ports from ${top + 1}: no room below its range from ${bottom}`);
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = bottom + Math.floor(Math.random() * (top - bottom + 1));
    if (await portIsFree(port)) return port;
  }
  throw new Error(`no free port from ${bottom} to ${top} in 50 tries`);
}

/** Whether a listener on 127.0.0.1:`port` can be opened now (it is opened, then closed). */
export async function portIsFree(port: number): Promise<boolean> {
  const server = net.createServer();
  const bound = await new Promise<boolean>((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => resolve(true));
  });
  if (bound) {
    server.close();
    await once(server, 'close');
  }
  return bound;
}

/** The redis-server binary on PATH, or undefined. */
export function findRedisServerBinary(): string | undefined {
  const found = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  const path = found.stdout.trim();
  return found.status === 0 && path ? path : undefined;
}

export async function freePort(): Promise<number> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

export function redisServerArgs(port: number, dataDir: string, appendfsync: 'always' | 'everysec'): string[] {
  return [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dataDir,
    '--appendonly',
    'yes',
    '--appendfsync',
    appendfsync,
    '--save',
    '',
    '--daemonize',
    'no',
    '--logfile',
    '',
  ];
}

export async function startRedisServer(options: RedisServerOptions): Promise<RedisServer> {
  const binary = findRedisServerBinary();
  if (!binary) throw new Error(REDIS_MISSING);
  const port = options.port || (await freePort());
  const { dataDir } = options;
  const appendfsync = options.appendfsync ?? 'always';

  let child: ChildProcess;
  let exited: Promise<void>;

  const launch = async () => {
    mkdirSync(dataDir, { recursive: true });
    // detached: a Ctrl-C meant for whoever started it does not reach Redis; its owner stops it.
    child = spawn(binary, [...redisServerArgs(port, dataDir, appendfsync), ...(options.extraArgs ?? [])], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    const lines: string[] = [];
    const collect = (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) {
        if (!line) continue;
        if (lines.length < 50) lines.push(line);
        options.onOutput?.(line);
      }
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    const current = child;
    exited = new Promise((resolve) => current.once('exit', () => resolve()));
    const failed = exited.then(() => {
      throw new Error(`redis-server on port ${port} exited at start:\n${lines.join('\n')}`);
    });
    await Promise.race([waitForPong(port, 15_000), failed]);
  };

  const running = () => child.exitCode === null && child.signalCode === null;
  const kill = async () => {
    if (running()) child.kill('SIGKILL');
    await exited;
  };
  /**
   * SIGTERM, again each second while it runs: Redis refuses a shutdown while it writes its first AOF
   * (a replica just after a full sync logs "Writing initial AOF, can't exit") and forgets that
   * SIGTERM. SIGKILL after STOP_GRACE_MS: an fsynced AOF loses nothing to it.
   */
  const stop = async () => {
    const deadline = Date.now() + STOP_GRACE_MS;
    const ended = exited.then(() => true);
    while (running() && Date.now() < deadline) {
      child.kill('SIGTERM');
      if (await Promise.race([ended, sleep(1_000).then(() => false)])) return;
    }
    await kill();
  };

  return launched({ port, dataDir, launch, kill, stop, handle: () => String(child.pid), exited: () => exited });
}

/** How one kind of Redis (a process, a container) is started, killed, stopped and named. */
export interface RedisLifecycle {
  port: number;
  dataDir: string;
  /** Starts it; resolves once it answers PING. */
  launch(): Promise<void>;
  kill(): Promise<void>;
  stop(): Promise<void>;
  /** Of the current process or container. */
  handle(): string;
  exited(): Promise<void>;
}

/** Launches Redis once and returns it as a RedisServer, whatever runs it. */
export async function launched(lifecycle: RedisLifecycle): Promise<RedisServer> {
  const { port, dataDir, launch, kill } = lifecycle;
  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dataDir,
    get handle() {
      return lifecycle.handle();
    },
    get exited() {
      return lifecycle.exited();
    },
    kill,
    async restart() {
      await kill();
      await launch();
    },
    stop: lifecycle.stop,
  };
}

/** Resolves once Redis answers PING with PONG (not LOADING), or fails after `timeoutMs`. */
export async function waitForPong(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer';
  while (Date.now() < deadline) {
    last = await ping(port).catch((error: Error) => error.message);
    if (last === '+PONG') return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  throw new Error(`redis on port ${port} did not answer PING within ${timeoutMs} ms (last: ${last})`);
}

function ping(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let reply = '';
    socket.setTimeout(1000, () => socket.destroy(new Error('PING timed out')));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString();
      if (reply.includes('\r\n')) {
        socket.end();
        resolve(reply.slice(0, reply.indexOf('\r\n')));
      }
    });
    socket.on('error', reject);
  });
}

export const REDIS_MISSING = [
  'microbank needs Redis 7 and found neither a `redis-server` on PATH nor a Docker engine for',
  'testcontainers. Install Redis and try again: on Debian or Ubuntu `sudo apt-get install',
  'redis-server redis-tools`, on macOS `brew install redis`, or start Docker so that a',
  'redis:7 container can be run for you.',
].join(' ');
