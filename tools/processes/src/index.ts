/** @microbank/processes: the one process toolkit of the tools (spawn, lines, readiness, stop, waiting). */
export * from './node-process.ts';
export * from './pid.ts';
export * from './repo-root.ts';
export * from './wait-for.ts';
