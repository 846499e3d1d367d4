/**
 * balance's HTTP API. `GET /balance/:account` finds the account in balance's own registry (its
 * registration carries the URL where it answers) and asks that account's service (with `?position=`, for a
 * balance that reflects a given ledger entry). `GET /audit`: is money conserved, with the figures,
 * the violations (each naming its ledger or transfer), the stuck transfers and the checkpoint (the
 * books: every ledger, the transfers and the supply folded, on a consistent cut; see audit.ts).
 */
import { type AccountsRegistry, accountName } from '@microbank/events';
import type { Audit } from '@microbank/ledger';
import type { ServiceContext } from '@microbank/service-runtime';
import { assertServing, getOnly, httpError, projectionServiceApp, withoutPassword } from '@microbank/service-runtime';
import { isStreamId, type Projection } from '@microbank/streams';
import type { Hono } from 'hono';
import { type AccountClient, AccountUnavailable, Busy } from './account-client.ts';
import type { AccountUrls } from './account-url.ts';
import { allowedAccountUrl, type UrlPattern } from './account-url-policy.ts';

export interface BalanceAppOptions extends ServiceContext {
  registry: AccountsRegistry;
  /** The books: the registry and every ledger, with their audit. */
  projection: Projection;
  audit: Audit;
  patterns: readonly UrlPattern[];
  urls: AccountUrls;
  client: AccountClient;
}

export function createBalanceApp(options: BalanceAppOptions): Hono {
  const { log, registry, projection, audit, patterns, urls, client } = options;
  const app = projectionServiceApp(options);

  getOnly(app, '/balance/:account', async (c) => {
    const requested = c.req.param('account') ?? '';
    const name = accountName.safeParse(requested);
    if (!name.success) {
      throw httpError(400, `account name ${name.error.issues[0]?.message}`, { account: requested.slice(0, 64) });
    }
    assertServing(projection);
    const account = registry.accounts.get(name.data);
    if (!account) throw httpError(404, `no account named ${name.data} has registered`, { account: name.data });
    const position = c.req.query('position');
    if (position !== undefined && !isStreamId(position)) {
      throw httpError(400, 'position must be a stream ID, as a transfer`s status gives it', {
        position: position.slice(0, 64),
      });
    }
    const url = allowedAccountUrl(patterns, account.name, await urls.urlOf(account.name, account.url));
    try {
      if (typeof url === 'string') throw new AccountUnavailable(`its registered URL is refused: ${url}`);
      return c.json({ account: account.name, balance: await client.balanceOf(account.name, url, position) });
    } catch (error) {
      if (error instanceof Busy) {
        throw httpError(
          503,
          `balance is busy asking account ${account.name}; try again shortly`,
          { account: account.name },
          { 'retry-after': '1' },
        );
      }
      if (!(error instanceof AccountUnavailable)) throw error;
      // The reason stays in the log: quoted to the client, it would make balance a port scanner.
      log.warn(
        { account: account.name, url: withoutPassword(account.url), err: error.message },
        'account did not give its balance',
      );
      throw httpError(
        503,
        `account ${account.name} did not give its balance`,
        { account: account.name },
        { 'retry-after': '1' },
      );
    }
  });

  getOnly(app, '/audit', (c) => {
    assertServing(projection);
    return c.json(audit.figures());
  });

  return app;
}
