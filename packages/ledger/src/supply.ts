/**
 * The money supply: the bank issues money, once per issuance, and no account process can. An
 * issuance is a two-step saga like a transfer, each step idempotent by the issuance's ID: record
 * it on the supply stream (SupplyIssued, scripts/record-issuance-2.lua), then issue it into the
 * account's ledger (Issued, scripts/issue-3.lua). A run stopped between the two is finished by
 * running it again. The bank's issuance is configuration (ISSUANCE, parseIssuance), issued at the
 * transfer service's start (issueConfiguredSupply).
 */
import { accountName, amount, issuanceId } from '@microbank/events';
import { errorMessage, isPermanentRedisError, type Log, retry, type StreamId } from '@microbank/streams';
import {
  type Issuance,
  IssuanceChangedError,
  issue,
  openingIssuance,
  type RedisClient,
  recordIssuance,
  type StepResult,
} from './ledger-steps.ts';

export interface IssuedSupply {
  /** The SupplyIssued's step and position on the supply stream. */
  recorded: StepResult<StreamId>;
  /** The Issued's step and position on the account's ledger. */
  issued: StepResult<StreamId>;
}

/**
 * Issues `i`: records it on the supply stream, then issues it into the account's ledger (opening
 * the ledger if need be). Safe to run again, after a crash anywhere: each step happens once. An
 * issuance run again with another account or amount is refused (IssuanceChangedError) before
 * anything is written.
 */
export async function issueSupply(redis: RedisClient, i: Issuance, prefix?: string): Promise<IssuedSupply> {
  const recorded = await recordIssuance(redis, i, prefix);
  const issued = await issue(redis, i, prefix);
  return { recorded, issued };
}

/**
 * The bank's issuance as configured, e.g. `ISSUANCE="john-account=100,mary-account=100"`: each
 * account once, each amount a whole number from 1 to 10^12 (an account issued nothing is left
 * out), each made under the issuance ID `opening:<account>`. Empty or unset: none. Throws an Error
 * whose message names the variable and the entry at fault.
 */
export function parseIssuance(value: string | undefined, variable = 'ISSUANCE'): Issuance[] {
  const entries: Issuance[] = [];
  if (value === undefined || value.trim() === '') return entries;
  for (const [at, entry] of value.split(',').entries()) {
    const problem = (why: string) =>
      new Error(`invalid configuration: ${variable} entry ${at + 1} (${JSON.stringify(entry.slice(0, 90))}) ${why}`);
    const match = /^\s*([^=\s]+)\s*=\s*(\S+)\s*$/.exec(entry);
    if (match === null) throw problem('is not <account>=<amount>');
    const [, account, digits] = match as unknown as [string, string, string];
    const name = accountName.safeParse(account);
    if (!name.success) throw problem(`names no account: ${name.error.issues[0]?.message}`);
    const issued = amount.safeParse(/^(0|[1-9]\d{0,12})$/.test(digits) ? Number(digits) : Number.NaN);
    if (!issued.success) throw problem('has an amount that is not a whole number from 1 to 10^12');
    if (entries.some((e) => e.account === account)) throw problem(`names ${account} a second time`);
    const issuance = openingIssuance(account);
    if (!issuanceId.safeParse(issuance).success) throw problem('makes an issuance ID that is too long');
    entries.push({ issuance, account, amount: issued.data });
  }
  return entries;
}

export interface ConfiguredSupply {
  /** Issuances made now, made earlier (run again: nothing changed), refused. */
  issued: number;
  repeated: number;
  refused: number;
}

/**
 * Issues the configured `entries`, each until done: while Redis is away it retries, with capped
 * backoff, until `signal` aborts. An issuance that cannot be made as configured (made earlier
 * with another amount, or refused by a script's checks) is logged as an error and left as it
 * stands; the others go on. Made to run at every start: a repeat changes nothing.
 */
export async function issueConfiguredSupply(
  redis: RedisClient,
  entries: readonly Issuance[],
  log: Log,
  prefix?: string,
  signal?: AbortSignal,
): Promise<ConfiguredSupply> {
  const done: ConfiguredSupply = { issued: 0, repeated: 0, refused: 0 };
  for (const entry of entries) {
    try {
      const { recorded, issued } = await retry(() => issueSupply(redis, entry, prefix), {
        firstMs: 50,
        capMs: 2_000,
        signal,
        retryable: (error) => !(error instanceof IssuanceChangedError) && !isPermanentRedisError(error),
        onFailure: (error, attempt) =>
          log.warn({ ...entry, attempt: attempt + 1, err: errorMessage(error) }, 'issuance not made yet; retrying'),
      });
      if (recorded.repeated && issued.repeated) done.repeated++;
      else done.issued++;
      log.info({ ...entry, position: issued.outcome, repeated: recorded.repeated && issued.repeated }, 'issued');
    } catch (error) {
      if (signal?.aborted) throw error;
      done.refused++;
      log.error({ ...entry, err: errorMessage(error) }, 'issuance refused: it stands as first made');
    }
  }
  return done;
}
