/**
 * The bank's books: one projection over the accounts stream and every account's ledger, which it
 * follows as accounts register. It holds each ledger's fold and the audit. balance keeps the
 * books (GET /audit); the dashboard does too.
 *
 * Only ledgers that exist are followed: an account opens its ledger before it registers, while a
 * registration typed in by hand (or a flood of them) has no ledger, and following thousands of
 * empty streams would make every XREAD name them all. A registered account without a ledger is
 * looked for again now and then.
 */
import {
  type AccountEvent,
  type AccountsRegistry,
  applyAccountEvent,
  closeRedis,
  connectRedis,
  createAccountsRegistry,
  decodeAccountEntry,
  decodeLedgerEntry,
  type LedgerEvent,
  type Log,
  ledgerKey,
  ledgerStateKey,
  type Projection,
  startProjection,
  streamKey,
} from '@microbank/events';
import type { Redis } from 'ioredis';
import { type Audit, createAudit } from './audit.ts';
import { emptyLedger, evolveLedger, type Ledger } from './ledger.ts';

/** How often registered accounts without a ledger are looked at again. */
const LOOK_AGAIN_MS = 5_000;

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
  const unchecked = new Set<string>();
  const ledgerless = new Set<string>();
  /** Each followed ledger stream's account, noted when it is followed: not parsed again per entry. */
  const accountOfLedger = new Map<string, string>();
  let checking: Promise<void> | undefined;
  /** Follows the ledgers of the accounts in `accounts` that have one (their state key exists). */
  async function followExisting(accounts: string[]): Promise<void> {
    for (let at = 0; at < accounts.length; at += 1_000) {
      const batch = accounts.slice(at, at + 1_000);
      const pipeline = redis.pipeline();
      for (const account of batch) pipeline.exists(ledgerStateKey(account, prefix));
      const replies = (await pipeline.exec()) ?? [];
      batch.forEach((account, i) => {
        const [error, exists] = replies[i] ?? [null, 0];
        if (!error && exists === 1) {
          ledgerless.delete(account);
          const stream = ledgerKey(account, prefix);
          accountOfLedger.set(stream, account);
          projection.follow(stream);
        } else {
          ledgerless.add(account);
        }
      });
    }
  }
  function checkSoon(): void {
    if (checking || unchecked.size === 0) return;
    const accounts = [...unchecked];
    unchecked.clear();
    checking = followExisting(accounts)
      .catch(() => {
        for (const account of accounts) ledgerless.add(account);
      })
      .finally(() => {
        checking = undefined;
        checkSoon();
      });
  }
  const lookAgain = setInterval(() => {
    for (const account of ledgerless) unchecked.add(account);
    checkSoon();
  }, LOOK_AGAIN_MS);
  lookAgain.unref();

  const projection: Projection = startProjection<AccountEvent | LedgerEvent>({
    name,
    streams: [accounts],
    redis,
    tailRedis: connectRedis(redisUrl, `${name}:tail`, log),
    log,
    blockMs,
    decode: (stream, fields) => (stream === accounts ? decodeAccountEntry(fields) : decodeLedgerEntry(fields)),
    apply: (event, id, stream) => {
      if (event.type === 'AccountRegistered') {
        const known = registry.accounts.has(event.data.account);
        applyAccountEvent(registry, event, id);
        if (!known) {
          // One look for a whole replay's new accounts: scheduled when the first one waits.
          if (unchecked.size === 0) setImmediate(checkSoon);
          unchecked.add(event.data.account);
        }
        return;
      }
      const account = accountOfLedger.get(stream);
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
      clearInterval(lookAgain);
      await projection.stop();
      await checking;
      await closeRedis(redis);
    },
  };
}
