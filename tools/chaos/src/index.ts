/** @microbank/chaos: the chaos monkey and chaos check for the local stack. */
export * from './chaos.ts';
export * from './kill-plan.ts';
export * from './report.ts';
