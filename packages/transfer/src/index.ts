/** @microbank/transfer: its HTTP app, the saga and the processor, for tests and tools; main.ts runs it. */
export * from './admission.ts';
export * from './app.ts';
export * from './compaction.ts';
export * from './config.ts';
export * from './credentials.ts';
export * from './parked.ts';
export * from './processor.ts';
export * from './saga.ts';
export * from './transfer-log.ts';
export * from './transfer-request.ts';
