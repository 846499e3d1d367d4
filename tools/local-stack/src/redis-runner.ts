/** The stack's Redis as a supervised component: restarted on the same port and data dir. */
import { type RedisServer, startRedis } from '@microbank/redis-runner';
import type { Runner, Say } from './supervisor.ts';

export function redisRunner(port: number, dataDir: string, say: Say): Runner {
  let server: RedisServer | undefined;
  return {
    async launch() {
      if (server) await server.restart();
      else server = await startRedis({ port, dataDir, appendfsync: 'always', onOutput: (line) => say('redis', line) });
      const current = server;
      const exited = current.exited.then(() => 'killed' as const);
      return {
        handle: current.handle,
        marker: 'redis-server',
        exited,
        terminate: () => current.stop(),
      };
    },
  };
}
