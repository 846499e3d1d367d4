/**
 * A primary with one replica, both real redis-server processes on free ports, for the tests of
 * confirmed writes: `freeze` stops the replica (SIGSTOP), so that it acknowledges nothing and a
 * WAIT on the primary times out; `thaw` lets it go on.
 */
import { waitFor } from '@microbank/processes';
import { Redis } from 'ioredis';
import { startTestRedis, type TestRedis } from './test-redis.ts';

export interface ReplicatedRedis {
  primary: TestRedis;
  replica: TestRedis;
  /** Stops the replica's process: it takes and acknowledges nothing until thawed. */
  freeze(): void;
  thaw(): void;
  dispose(): Promise<void>;
}

export async function startReplicatedRedis(): Promise<ReplicatedRedis> {
  const primary = await startTestRedis();
  const replica = await startTestRedis();
  const admin = new Redis(replica.url, { lazyConnect: true });
  try {
    await admin.connect();
    await admin.replicaof('127.0.0.1', primary.port);
    await waitFor(
      'the replica to be in sync with its primary',
      async () => (await admin.info('replication')).includes('master_link_status:up'),
      (up) => up,
      { timeoutMs: 15_000 },
    );
  } finally {
    admin.disconnect();
  }
  const signal = (name: NodeJS.Signals) => process.kill(Number(replica.handle), name);
  return {
    primary,
    replica,
    freeze: () => signal('SIGSTOP'),
    thaw: () => signal('SIGCONT'),
    async dispose() {
      signal('SIGCONT');
      await replica.dispose();
      await primary.dispose();
    },
  };
}
