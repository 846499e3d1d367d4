/** @microbank/service-runtime: what every microbank service shares that is not about events. */
export * from './config.ts';
export * from './http-errors.ts';
export * from './logger.ts';
export * from './metrics.ts';
export * from './projection-readiness.ts';
export * from './serve.ts';
export * from './service-app.ts';
export * from './service-basics.ts';
export * from './source-mapped-stacks.ts';
