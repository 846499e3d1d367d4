/**
 * balance's HTTP API: `GET /balance/:account` finds the account in balance's own registry
 * projection (the stream is the service directory) and asks that account's service.
 */
import { type AccountsRegistry, accountName, errorMessage, type Projection } from '@microbank/events';
import type { ServiceContext } from '@microbank/service-runtime';
import { assertServing, getOnly, httpError, projectionServiceApp } from '@microbank/service-runtime';
import type { Hono } from 'hono';
import { fetchBalance } from './account-client.ts';

export interface BalanceAppOptions extends ServiceContext {
  registry: AccountsRegistry;
  projection: Projection;
  accountTimeoutMs: number;
}

export function createBalanceApp(options: BalanceAppOptions): Hono {
  const { log, registry, projection, accountTimeoutMs } = options;
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
    try {
      const balance = await fetchBalance(account.url, accountTimeoutMs);
      return c.json({ account: account.name, balance });
    } catch (error) {
      const why =
        error instanceof DOMException && error.name === 'TimeoutError'
          ? `no answer within ${accountTimeoutMs} ms`
          : errorMessage(error);
      log.warn({ account: account.name, url: account.url, err: why }, 'account did not give its balance');
      throw httpError(
        503,
        `account ${account.name} is not answering at ${account.url}: ${why}`,
        { account: account.name },
        { 'retry-after': '1' },
      );
    }
  });

  return app;
}
