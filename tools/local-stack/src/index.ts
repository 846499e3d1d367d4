/** @microbank/local-stack: the local stack's plan and controls, for tests and tools. */
export * from './cluster-faults.ts';
export * from './cluster-redis.ts';
export * from './disruptions.ts';
export * from './kill-component.ts';
export * from './operator-redis.ts';
export * from './pause-component.ts';
export * from './pid-files.ts';
export * from './stack-plan.ts';
export * from './stack-process.ts';
export { credentialFile, type StackClient, stackCredential } from './stack-secrets.ts';
