/** @microbank/ledger: the money: each account's ledger (its steps, its fold), the supply, the books and their audit. */
export * from './audit.ts';
export * from './books.ts';
export * from './ledger.ts';
export * from './ledger-check.ts';
export * from './ledger-decider.ts';
export * from './ledger-projection.ts';
export * from './ledger-rebuild.ts';
export * from './ledger-steps.ts';
export * from './supply.ts';
