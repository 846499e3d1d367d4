/** @microbank/bench: `pnpm bench`, recovery and serving figures against their limits. */
export * from './bench-options.ts';
export * from './report.ts';
export * from './run-bench.ts';
