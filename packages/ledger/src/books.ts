/**
 * The bank's books: one projection over the accounts stream, the transfers stream, the supply
 * stream and every account's ledger, which it follows as accounts register. It holds each
 * ledger's fold and the audit (audit.ts) with its checkpoint (audit-checkpoint.ts), and compares
 * what the ledger scripts keep with the fold now and then (books-state-check.ts). balance keeps
 * the books (GET /audit); the dashboard does too. They are wired as every state the bank serves
 * is (startStateProjection, as the registry and each ledger), without snapshots.
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
  compactionKey,
  createAccountsRegistry,
  decodeAccountEntry,
  decodeLedgerEntry,
  KEY_PREFIX,
  type LedgerEvent,
  ledgerKey,
  ledgerStateKey,
  type SupplyEvent,
  streamKey,
  supplyEvents,
  supplyKey,
  type TransferEvent,
  transferEvents,
  transfersKey,
} from '@microbank/events';
import {
  type DecodedEntry,
  decodeEntryBuffers,
  errorMessage,
  type Log,
  type Projection,
  type RedisAt,
  type RedisClient,
  startStateProjection,
} from '@microbank/streams';
import { type Audit, createAudit } from './audit.ts';
import { booksDigest } from './audit-checkpoint.ts';
import { type StateCheck, startStateCheck } from './books-state-check.ts';
import type { Ledger } from './ledger.ts';

/** How often registered accounts without a ledger are looked at again. */
const LOOK_AGAIN_MS = 5_000;

export interface Books {
  registry: AccountsRegistry;
  /** Each ledger read, folded: the audit's own folds (one fold per entry, not two). */
  ledgers: ReadonlyMap<string, Ledger>;
  audit: Audit;
  projection: Projection;
  /** The comparison of what the ledger scripts keep with the fold. */
  stateCheck: StateCheck;
  /** The command connection. */
  redis: RedisClient;
  close(): Promise<void>;
}

export interface BooksOptions {
  redisAt: RedisAt;
  log: Log;
  /** Names the projection and its connections. */
  name: string;
  /** A key prefix of the tests' own; the bank's keys by default. */
  prefix?: string;
  blockMs?: number;
  /** How long a transfer may stay unsettled before the audit reports it stuck (STUCK_AFTER_MS by default). */
  stuckAfterMs?: number;
  /** How often the script-kept state of a few ledgers is compared with the fold; 0: only when asked. */
  stateCheckMs?: number;
  /** After a tail read that brought entries, how long to wait before the next (BOOKS_LINGER_MS by default). */
  lingerMs?: number;
}

/**
 * How long the books wait after a tail read that brought entries. They follow every ledger, the
 * transfers and the supply, four entries a transfer, each of which would otherwise wake them for
 * a read of its own: read in batches, they cost a fraction of the CPU under load. A balance or
 * audit asked for without a position is at most this much older; one that names a position ends
 * the wait.
 */
const BOOKS_LINGER_MS = 50;

/** How often the books compare the script-kept state of a few ledgers with the fold, by default. */
const STATE_CHECK_MS = 5_000;

/**
 * An entry of a ledger, the transfers or the supply stream that does not decode. No script or
 * service writes one, so the audit names it (with its ID) as a violation instead of skipping it:
 * the books cannot vouch for what they cannot read.
 */
interface Unreadable {
  type: 'Unreadable';
  data: { reason: string; seq?: undefined };
}

type BooksEvent = AccountEvent | LedgerEvent | TransferEvent | SupplyEvent | Unreadable;

export function startBooks(options: BooksOptions): Books {
  const { redisAt, log, name, prefix, blockMs } = options;
  const accounts = streamKey('accounts', prefix);
  const transfers = transfersKey(prefix);
  const supply = supplyKey(prefix);
  const registry = createAccountsRegistry();
  /** A stream's name in the checkpoint: its key without the prefix, the same for a copy under another. */
  const prefixLength = (prefix ?? KEY_PREFIX).length + 1;
  const digest = booksDigest(prefixLength);
  const audit = createAudit({ stuckAfterMs: options.stuckAfterMs, checkpoint: digest.checkpoint });
  /**
   * The fields of the entry being applied: decode and apply are called one after the other for
   * each entry, and the checkpoint digests the entry as stored, not as decoded.
   */
  let entryFields: readonly Buffer[] = [];
  const unchecked = new Set<string>();
  const ledgerless = new Set<string>();
  /** Each followed ledger stream's account, noted when it is followed: not parsed again per entry. */
  const accountOfLedger = new Map<string, string>();
  let checking: Promise<void> | undefined;
  /** Follows the ledgers of the accounts in `accounts` that have one (their state key exists). */
  async function followExisting(accounts: string[]): Promise<void> {
    let unanswered = 0;
    let firstError: unknown;
    for (let at = 0; at < accounts.length; at += 1_000) {
      const batch = accounts.slice(at, at + 1_000);
      // One command per account, all sent at once: on a cluster each key is in a slot of its own.
      // One unanswered is taken for no ledger, and looked at again with those.
      const replies = await Promise.all(
        batch.map((account) =>
          redis.exists(ledgerStateKey(account, prefix)).catch((error: unknown) => {
            unanswered += 1;
            firstError ??= error;
            return 0;
          }),
        ),
      );
      batch.forEach((account, i) => {
        if (replies[i] === 1) {
          ledgerless.delete(account);
          const stream = ledgerKey(account, prefix);
          accountOfLedger.set(stream, account);
          projection.follow(stream);
        } else {
          ledgerless.add(account);
        }
      });
    }
    if (unanswered > 0) {
      log.warn(
        { accounts: unanswered, err: errorMessage(firstError), retryMs: LOOK_AGAIN_MS },
        'the books could not ask whether some accounts have a ledger; asking again',
      );
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

  const compaction = compactionKey(prefix);
  const state = startStateProjection<BooksEvent>({
    redisAt,
    log,
    name,
    streams: [accounts, transfers, supply],
    snapshots: false,
    blockMs,
    lingerMs: options.lingerMs ?? BOOKS_LINGER_MS,
    // Answered before anything is read: the ledger entries of the transfers a compaction archived
    // are known for theirs from the first, not taken for entries of transfers never requested.
    // (Asked once on a connection not yet ready, as it was before, it was refused every time, and
    // the books learnt the point only from their periodic check.) A compaction made later, during
    // a long catch-up, is learnt from that check. A key that is no hash (written by hand) fails the
    // books, naming it: they cannot vouch for what it would have told them.
    beforeCatchUp: async (commands) => {
      let point: string | null;
      try {
        point = await commands.hget(compaction, 'before');
      } catch (error) {
        if (error instanceof Error) error.message = `reading ${compaction}: ${error.message}`;
        throw error;
      }
      if (point !== null) audit.compactedBefore(point);
    },
    decode: (fields, stream): DecodedEntry<BooksEvent> => {
      if (stream === accounts) return decodeAccountEntry(fields);
      entryFields = fields;
      const decoded: DecodedEntry<BooksEvent> =
        stream === transfers
          ? decodeEntryBuffers(transferEvents, fields)
          : stream === supply
            ? decodeEntryBuffers(supplyEvents, fields)
            : decodeLedgerEntry(fields);
      return decoded.ok ? decoded : { ok: true, event: { type: 'Unreadable', data: { reason: decoded.reason } } };
    },
    apply: (event, id, stream) => {
      if (event.type === 'Unreadable') {
        const ledger = accountOfLedger.get(stream);
        audit.violationOnce(`${stream}\n${id}`, {
          ...(ledger === undefined ? {} : { ledger }),
          at: id,
          reason: `an entry of ${stream.slice(prefixLength)} that does not read: ${event.data.reason}`,
        });
        digest.note(stream, id, entryFields);
        return;
      }
      if (stream === transfers) {
        audit.applyTransfer(event as TransferEvent, id);
        digest.note(stream, id, entryFields);
        return;
      }
      if (stream === supply) {
        audit.applySupply(event as SupplyEvent, id);
        digest.note(stream, id, entryFields);
        return;
      }
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
      audit.applyLedger(account, event as LedgerEvent, id);
      digest.note(stream, id, entryFields);
    },
  });
  const { projection, redis } = state;
  const stateCheck = startStateCheck({
    redis,
    audit,
    projection,
    log,
    prefix,
    transfers,
    supply,
    compaction,
    everyMs: options.stateCheckMs ?? STATE_CHECK_MS,
  });
  return {
    registry,
    ledgers: audit.ledgers,
    audit,
    projection,
    stateCheck,
    redis,
    async close() {
      clearInterval(lookAgain);
      await stateCheck.stop();
      await projection.stop();
      await checking;
      await state.close();
    },
  };
}
