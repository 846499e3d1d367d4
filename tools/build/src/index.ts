/** @microbank/build: the services' self-contained bundles, for `pnpm build`, the stack and the bench. */
export * from './build.ts';
