/** @microbank/testing: test helpers shared by every package (suites, a real Redis, bad-request sweeps). */

export { type NodeProcess, REPO_ROOT, spawnNode, waitFor } from '@microbank/processes';
export { freePort, portForLater, type RedisCluster, startRedisCluster } from '@microbank/redis-runner';
export * from './assert-rejects.ts';
export * from './bad-requests.ts';
export * from './browser.ts';
export * from './collect-garbage.ts';
export * from './read-stream.ts';
export * from './recording-log.ts';
export * from './redis-clock.ts';
export * from './redis-suite.ts';
export * from './replicated-redis.ts';
export * from './seed-walkthrough.ts';
export * from './test-redis.ts';
export * from './test-suite.ts';
