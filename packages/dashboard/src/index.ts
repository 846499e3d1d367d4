/** @microbank/dashboard: the live page of the bank; main.ts runs it. */
export * from './app.ts';
export * from './bank-view.ts';
export * from './component-watch.ts';
export * from './config.ts';
export * from './live-updates.ts';
