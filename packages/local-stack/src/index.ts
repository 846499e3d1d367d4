/** @microbank/local-stack: the local stack's plan, for tests and tools. */
export * from './pid-files.ts';
export * from './stack-plan.ts';
