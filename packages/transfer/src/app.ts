/**
 * The transfer service's HTTP API.
 *   POST /transfers  {"from","to","amount"} with an Idempotency-Key: 202 {"transfer","status"} and
 *                    a Location; the same key and body again: the same transfer; the same key
 *                    with another body: 422. Bad input of any kind: a 4xx JSON body, nothing recorded.
 *   GET /transfers/:id  its status: pending, completed or rejected (with the reason), and where
 *                    the money moved (positions a balance read can wait for).
 */
import type { AccountsRegistry, Projection } from '@microbank/events';
import type { RedisClient } from '@microbank/ledger';
import type { ServiceContext } from '@microbank/service-runtime';
import { assertServing, httpError, projectionServiceApp, route } from '@microbank/service-runtime';
import type { Hono } from 'hono';
import { requestTransfer, transferStatus } from './transfer-log.ts';
import { parseIdempotencyKey, transferBody } from './transfer-request.ts';

export interface TransferAppOptions extends ServiceContext {
  /** The registry: transfers name registered accounts only. */
  registry: AccountsRegistry;
  projection: Projection;
  redis: RedisClient;
  prefix?: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function createTransferApp(options: TransferAppOptions): Hono {
  const { registry, projection, redis, prefix } = options;
  const app = projectionServiceApp({ ...options, writesThrough: redis });

  route(app, '/transfers', {
    post: async (c) => {
      const type = c.req.header('content-type') ?? '';
      if (!/^application\/json\s*(;|$)/i.test(type)) {
        throw httpError(415, 'the body must be JSON, sent as Content-Type: application/json');
      }
      const idempotency = parseIdempotencyKey(c.req.header('idempotency-key'));
      if ('problem' in idempotency) throw httpError(400, idempotency.problem, { error: 'idempotency_key' });
      let json: unknown;
      try {
        json = JSON.parse(await c.req.text());
      } catch {
        throw httpError(400, 'the body is not JSON', { error: 'bad_json' });
      }
      const parsed = transferBody.safeParse(json);
      if (!parsed.success) {
        const fields: Record<string, string> = {};
        for (const issue of parsed.error.issues) {
          if (issue.code === 'unrecognized_keys') fields.body = `unknown field(s): ${issue.keys.join(', ')}`;
          else fields[issue.path.length > 0 ? issue.path.join('.') : 'body'] ??= issue.message;
        }
        throw httpError(422, 'the transfer is not valid', { error: 'invalid', fields });
      }
      const request = parsed.data;
      if (request.from === request.to) {
        throw httpError(422, 'the transfer is not valid', {
          error: 'invalid',
          fields: { to: 'must be another account than from' },
        });
      }
      assertServing(projection);
      const unknown: Record<string, string> = {};
      for (const field of ['from', 'to'] as const) {
        if (!registry.accounts.has(request[field])) unknown[field] = `no account named ${request[field]}`;
      }
      if (Object.keys(unknown).length > 0) {
        throw httpError(422, 'the transfer names an unknown account', { error: 'unknown_account', fields: unknown });
      }
      const requested = await requestTransfer(redis, request, idempotency.key, prefix);
      if (requested.kind === 'key-reused') {
        throw httpError(422, 'this Idempotency-Key was used for another transfer request', {
          error: 'idempotency_key_reused',
          transfer: requested.transfer,
        });
      }
      const status =
        requested.kind === 'new'
          ? 'pending'
          : ((await transferStatus(redis, requested.transfer, prefix))?.status ?? 'pending');
      return c.json({ transfer: requested.transfer, status }, 202, { location: `/transfers/${requested.transfer}` });
    },
  });

  route(app, '/transfers/:id', {
    get: async (c) => {
      const id = c.req.param('id') ?? '';
      const status = UUID.test(id) ? await transferStatus(redis, id, prefix) : undefined;
      if (!status) throw httpError(404, `no transfer ${id.slice(0, 64)}`, { transfer: id.slice(0, 64) });
      return c.json(status);
    },
  });

  return app;
}
