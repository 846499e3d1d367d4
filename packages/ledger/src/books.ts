/**
 * The bank's books: one projection over the accounts stream and every account's ledger, which it
 * follows as accounts register. It holds each ledger's fold and the audit. balance keeps the
 * books (GET /audit); the dashboard does too.
 */
import {
  type AccountEvent,
  type AccountsRegistry,
  accountOfLedger,
  applyAccountEvent,
  closeRedis,
  connectRedis,
  createAccountsRegistry,
  decodeAccountEntry,
  decodeEntryBuffers,
  type LedgerEvent,
  type Log,
  ledgerEvents,
  ledgerKey,
  type Projection,
  startProjection,
  streamKey,
} from '@microbank/events';
import type { Redis } from 'ioredis';
import { type Audit, createAudit } from './audit.ts';
import { emptyLedger, evolveLedger, type Ledger } from './ledger.ts';

export interface Books {
  registry: AccountsRegistry;
  /** Each registered account's ledger, folded. */
  ledgers: Map<string, Ledger>;
  audit: Audit;
  projection: Projection;
  /** The command connection. */
  redis: Redis;
  close(): Promise<void>;
}

export interface BooksOptions {
  redisUrl: string;
  log: Log;
  /** Names the projection and its connections. */
  name: string;
  /** A key prefix of the tests' own; the bank's keys by default. */
  prefix?: string;
  blockMs?: number;
}

export function startBooks({ redisUrl, log, name, prefix, blockMs }: BooksOptions): Books {
  const redis = connectRedis(redisUrl, `${name}:commands`, log);
  const accounts = streamKey('accounts', prefix);
  const registry = createAccountsRegistry();
  const ledgers = new Map<string, Ledger>();
  const audit = createAudit();
  const projection: Projection = startProjection<AccountEvent | LedgerEvent>({
    name,
    streams: [accounts],
    redis,
    tailRedis: connectRedis(redisUrl, `${name}:tail`, log),
    log,
    blockMs,
    decode: (stream, fields) =>
      stream === accounts ? decodeAccountEntry(fields) : decodeEntryBuffers(ledgerEvents, fields),
    apply: (event, id, stream) => {
      if (event.type === 'AccountRegistered') {
        applyAccountEvent(registry, event, id);
        projection.follow(ledgerKey(event.data.account, prefix));
        return;
      }
      const account = accountOfLedger(stream, prefix);
      if (account === undefined) throw new Error(`${stream} is no ledger`);
      let ledger = ledgers.get(account);
      if (!ledger) {
        ledger = emptyLedger();
        ledgers.set(account, ledger);
      }
      evolveLedger(ledger, event, id);
      audit.apply(account, event, id);
    },
  });
  return {
    registry,
    ledgers,
    audit,
    projection,
    redis,
    async close() {
      await projection.stop();
      await closeRedis(redis);
    },
  };
}
