/** @microbank/testing: test helpers shared by every package (suites, waiting, a real Redis). */

export { freePort } from '@microbank/redis-runner';
export * from './bad-requests.ts';
export * from './recording-log.ts';
export * from './service-process.ts';
export * from './test-redis.ts';
export * from './test-suite.ts';
export * from './wait-for.ts';
