/** @microbank/dashboard: the live page of the bank; main.ts runs it. */

export * from './bank-view.ts';
export * from './component-watch.ts';
export * from './config.ts';
export * from './live-updates.ts';
export * from './sections.ts';
export * from './server-app.ts';
