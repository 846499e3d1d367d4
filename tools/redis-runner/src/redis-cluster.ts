/**
 * A real Redis Cluster of three masters from redis-server binaries on free local ports (each with
 * its own temporary dir), joined by `redis-cli --cluster create`: for tests that prove the key
 * design holds where every key's slot matters.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type RedisServer, startRedisServer } from './redis-server.ts';

const run = promisify(execFile);

export interface RedisCluster {
  /** `127.0.0.1:<port>` of each master. */
  nodes: Array<{ host: string; port: number }>;
  dispose(): Promise<void>;
}

export async function startRedisCluster(masters = 3): Promise<RedisCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'microbank-cluster-'));
  const servers: RedisServer[] = [];
  try {
    for (let i = 0; i < masters; i++) {
      servers.push(
        await startRedisServer({
          dataDir: join(dir, `node-${i}`),
          appendfsync: 'everysec',
          extraArgs: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf'],
        }),
      );
    }
    const addresses = servers.map((server) => `127.0.0.1:${server.port}`);
    await run('redis-cli', ['--cluster', 'create', ...addresses, '--cluster-replicas', '0', '--cluster-yes']);
    // The cluster is usable once every node sees all slots assigned.
    for (const server of servers) await waitForClusterOk(server.port);
  } catch (error) {
    for (const server of servers) await server.kill();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    nodes: servers.map((server) => ({ host: '127.0.0.1', port: server.port })),
    async dispose() {
      for (const server of servers) await server.kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function waitForClusterOk(port: number): Promise<void> {
  const deadline = Date.now() + 15_000;
  let last = '';
  while (Date.now() < deadline) {
    last = (await run('redis-cli', ['-p', String(port), 'CLUSTER', 'INFO'])).stdout;
    if (/cluster_state:ok/.test(last)) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`the cluster node on ${port} is not ok after 15 s: ${last.split('\n')[0]}`);
}
