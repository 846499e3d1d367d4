/** @microbank/parked: `pnpm parked`, the transfers the processors parked, listed and re-applied. */
export * from './parked-tool.ts';
