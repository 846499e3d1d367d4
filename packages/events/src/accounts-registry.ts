/** The registry: every account once, in the order of its first registration, with where it answers. */
import type { AccountEvent } from './account-events.ts';
import type { StreamId } from './stream-id.ts';

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

/** Folds one event into the registry. Registering again is how a restart says hello: no duplicate. */
export function applyAccountEvent(registry: AccountsRegistry, event: AccountEvent, id: StreamId): void {
  switch (event.type) {
    case 'AccountRegistered': {
      const { account, url } = event.data;
      const known = registry.accounts.get(account);
      if (known === undefined) {
        registry.accounts.set(account, { name: account, url, firstRegisteredAt: id });
        registry.version++;
      } else if (known.url !== url) {
        known.url = url;
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

function assertNever(value: never): never {
  throw new Error(`unhandled event type ${String(value)}`);
}
