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
import { waitFor } from '@microbank/processes';
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
  const dispose = async () => {
    for (const server of servers) await server.kill();
    rmSync(dir, { recursive: true, force: true });
  };
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
    for (const { port } of servers) {
      await waitFor(
        `the cluster node on ${port} to be ok`,
        async () => (await run('redis-cli', ['-p', String(port), 'CLUSTER', 'INFO'])).stdout.split('\n')[0],
        (state) => /cluster_state:ok/.test(state ?? ''),
        { timeoutMs: 15_000, intervalMs: 50 },
      );
    }
  } catch (error) {
    await dispose();
    throw error;
  }
  return { nodes: servers.map((server) => ({ host: '127.0.0.1', port: server.port })), dispose };
}
