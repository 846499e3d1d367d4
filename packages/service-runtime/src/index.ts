/**
 * @microbank/service-runtime: what every microbank service shares beside its streams: configuration,
 * logs, metrics, HTTP errors and serving, and what a projection's state means for HTTP (readiness).
 */
export * from './accounts-registry.ts';
export * from './config.ts';
export * from './http-errors.ts';
export * from './logger.ts';
export * from './metrics.ts';
export * from './projection-readiness.ts';
export * from './serve.ts';
export * from './service-app.ts';
export * from './service-basics.ts';
export * from './source-mapped-stacks.ts';
