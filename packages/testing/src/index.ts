/** @microbank/testing: test helpers shared by every package (suites, waiting, a real Redis). */
export * from './test-redis.ts';
export * from './test-suite.ts';
export * from './wait-for.ts';
