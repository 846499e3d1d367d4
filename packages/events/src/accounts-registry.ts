/** The registry: every account once, in the order of its first registration, with where it answers. */

import { isStreamId, ownCopy, type StreamId } from '@microbank/streams';
import { ACCOUNT_NAME_PATTERN, type AccountEvent, serviceUrl } from './account-events.ts';
import { isUsualServiceUrl } from './entry-fast-path.ts';

export interface RegisteredAccount {
  name: string;
  /** Where the account's service answers; the latest registration wins. */
  url: string;
  /** The stream position of its first registration. */
  firstRegisteredAt: StreamId;
}

export interface AccountsRegistry {
  /** A Map keeps insertion order, which is first-registration order. */
  readonly accounts: Map<string, RegisteredAccount>;
  /** Bumped on every change, so readers can cache what they derive from it. */
  version: number;
}

export function createAccountsRegistry(): AccountsRegistry {
  return { accounts: new Map(), version: 0 };
}

/** Forgets every account, for a registry rebuilt from the stream (after Redis lost data). */
export function clearRegistry(registry: AccountsRegistry): void {
  registry.accounts.clear();
  registry.version++;
}

/**
 * Folds one event into the registry. Registering again is how a restart says hello: no duplicate.
 * The strings kept are copies: a decoded event's strings may be slices of its entry's text.
 */
export function applyAccountEvent(registry: AccountsRegistry, event: AccountEvent, id: StreamId): void {
  switch (event.type) {
    case 'AccountRegistered': {
      const { account, url } = event.data;
      const known = registry.accounts.get(account);
      if (known === undefined) {
        const name = ownCopy(account);
        registry.accounts.set(name, { name, url: ownCopy(url), firstRegisteredAt: id });
        registry.version++;
      } else if (known.url !== url) {
        known.url = ownCopy(url);
        registry.version++;
      }
      return;
    }
    default:
      assertNever(event.type);
  }
}

export function accountNames(registry: AccountsRegistry): string[] {
  return [...registry.accounts.keys()];
}

/**
 * The format of the registry's snapshot. Bump it whenever the state, how it is signed or
 * applyAccountEvent changes meaning: snapshots of another format are then ignored and rebuilt
 * from the stream. (2: signed with an HMAC, positions per stream.)
 */
export const REGISTRY_SNAPSHOT_FORMAT = 2;

/** The registry as its snapshot stores it: `[[name, url, firstRegisteredAt], ...]` in first-registration order. */
export function registrySnapshotState(registry: AccountsRegistry): string {
  const rows: Array<[string, string, StreamId]> = [];
  for (const { name, url, firstRegisteredAt } of registry.accounts.values()) rows.push([name, url, firstRegisteredAt]);
  return JSON.stringify(rows);
}

/**
 * Replaces the registry's accounts with those of a snapshot's state. Throws, leaving the registry
 * as it was, when the state is not one registrySnapshotState could have written: every row must
 * pass the schema of the registration it came from (a DNS label, an http(s) URL).
 */
export function restoreRegistry(registry: AccountsRegistry, state: string): void {
  const rows: unknown = JSON.parse(state);
  if (!Array.isArray(rows)) throw new Error('the state is not a list of accounts');
  const accounts = new Map<string, RegisteredAccount>();
  for (const row of rows as unknown[]) {
    if (!Array.isArray(row) || row.length !== 3) throw new Error('an account is not [name, url, firstRegisteredAt]');
    const [name, url, firstRegisteredAt] = row as unknown[];
    // The accountName schema is exactly this pattern; a URL is asked of the schema (a WHATWG parse)
    // only when the fast path's pattern does not already vouch for it: 100,000 rows restore in a
    // fraction of the time.
    if (typeof name !== 'string' || !ACCOUNT_NAME_PATTERN.test(name)) throw new Error('an account name is invalid');
    if (typeof url !== 'string' || !(isUsualServiceUrl(url) || serviceUrl.safeParse(url).success)) {
      throw new Error(`the url of ${name} is not an http(s) URL`);
    }
    if (typeof firstRegisteredAt !== 'string' || !isStreamId(firstRegisteredAt)) {
      throw new Error(`the first registration of ${name} is not a stream ID`);
    }
    if (accounts.has(name)) throw new Error(`${name} is listed twice`);
    accounts.set(name, { name, url, firstRegisteredAt });
  }
  registry.accounts.clear();
  for (const [name, account] of accounts) registry.accounts.set(name, account);
  registry.version++;
}

function assertNever(value: never): never {
  throw new Error(`unhandled event type ${String(value)}`);
}
