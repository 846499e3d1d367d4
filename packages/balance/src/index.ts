/** @microbank/balance: its HTTP app and config, for tests and tools; main.ts runs it. */
export * from './account-client.ts';
export * from './account-url.ts';
export * from './account-url-policy.ts';
export * from './app.ts';
export * from './config.ts';
