/** @microbank/redis-runner: a real Redis for the local stack, the tests and the benchmarks. */
import { dockerAnswers, startRedisContainer } from './redis-container.ts';
import {
  findRedisServerBinary,
  REDIS_MISSING,
  type RedisServer,
  type RedisServerOptions,
  startRedisServer,
} from './redis-server.ts';

export * from './cluster-nodes.ts';
export * from './cluster-view.ts';
export * from './redis-cluster.ts';
export { dockerAnswers, REDIS_IMAGE, type RedisContainerOptions, startRedisContainer } from './redis-container.ts';
export * from './redis-server.ts';

/** Why Redis cannot be started here (the install advice), or undefined when it can. */
export async function redisUnavailable(): Promise<string | undefined> {
  if (findRedisServerBinary() || (await dockerAnswers())) return undefined;
  return REDIS_MISSING;
}

/** A redis-server from PATH; failing that, a container where Docker answers; failing that, how to install Redis. */
export async function startRedis(options: RedisServerOptions): Promise<RedisServer> {
  if (findRedisServerBinary()) return startRedisServer(options);
  if (await dockerAnswers()) return startRedisContainer(options);
  throw new Error(REDIS_MISSING);
}
