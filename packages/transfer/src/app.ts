/**
 * The transfer service's HTTP API. Both routes take `Authorization: Bearer <credential>`
 * (credentials.ts): without a valid one, 401.
 *   POST /transfers  {"from","to","amount"} with an Idempotency-Key: 202 {"transfer","status"} and
 *                    a Location. The client's key answers first: the same key and body again
 *                    answer the same transfer and its status now, whatever refusal a new request
 *                    would meet; the same key with another body: 422. A credential that may not debit `from`: 403. Bad
 *                    input of any kind: a 4xx JSON body, nothing recorded. Redis near its
 *                    maxmemory: 503 with Retry-After for a new transfer (admission.ts). Recorded
 *                    but not confirmed by the replicas in time (REDIS_CONFIRM_REPLICAS): 503
 *                    {"error":"indeterminate","transfer"}; the same request again answers the outcome.
 *   GET /transfers/:id  its status: pending, completed or rejected (with the reason), and where
 *                    the money moved (positions a balance read can wait for); only to the client
 *                    that requested it or one that may debit its `from` (404 to anyone else).
 */
import type { AccountsRegistry } from '@microbank/events';
import type { RedisClient } from '@microbank/ledger';
import type { ServiceContext } from '@microbank/service-runtime';
import { assertServing, httpError, projectionServiceApp, route } from '@microbank/service-runtime';
import type { Delivery, Projection } from '@microbank/streams';
import type { Context, Hono } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { Admission } from './admission.ts';
import type { Credentials } from './credentials.ts';
import type { Processor } from './processor.ts';
import {
  fingerprintOf,
  type Requested,
  requestTransfer,
  type TransferRequest,
  transferOfKey,
  transferStatus,
} from './transfer-log.ts';
import { parseIdempotencyKey, transferBody } from './transfer-request.ts';

export interface TransferAppOptions extends ServiceContext {
  /** The registry: transfers name registered accounts only. */
  registry: AccountsRegistry;
  projection: Projection;
  redis: RedisClient;
  /** Who may move money, and from which accounts. */
  credentials: Credentials;
  /** Whether Redis has room for new transfers (admission.ts). */
  admission: Pick<Admission, 'refusal'>;
  /** How long a client's Idempotency-Key is kept (DEFAULT_RETENTION_MS). */
  retentionMs?: number;
  prefix?: string;
  /** This replica's processor: it runs at once the sagas of the requests this replica takes, when it has room. */
  processor?: Pick<Processor, 'reserve'>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A body's fingerprint as its transfer request's, or one that matches no request's when it is none. */
function fingerprintOfBody(text: string): string {
  try {
    const parsed = transferBody.safeParse(JSON.parse(text));
    if (parsed.success) return fingerprintOf(parsed.data);
  } catch {}
  return 'not a transfer request';
}

const keyReused = (transfer: string) =>
  httpError(422, 'this Idempotency-Key was used for another transfer request', {
    error: 'idempotency_key_reused',
    transfer,
  });

/**
 * A request recorded on the primary that its replicas did not confirm in time: it may be lost in a
 * failover, or stand. Never a success that may vanish: the client sends it again with the same
 * Idempotency-Key (or asks GET /transfers/:id), and that answer is the outcome.
 */
const indeterminate = (transfer: string) =>
  httpError(
    503,
    'the transfer was recorded but no replica confirmed it yet: it may stand or be lost; send the same request again with the same Idempotency-Key',
    { error: 'indeterminate', transfer },
    { 'retry-after': '1' },
  );

export function createTransferApp(options: TransferAppOptions): Hono {
  const { registry, projection, redis, credentials, admission, prefix, retentionMs } = options;
  const app = projectionServiceApp({ ...options, writesThrough: redis });

  /** The caller's client, or a 401 (counted by the HTTP metrics under its status, as every answer). */
  const authenticated = (header: string | undefined) => {
    const who = credentials.authenticate(header);
    if (!who.ok) throw httpError(401, who.problem, {}, { 'www-authenticate': 'Bearer realm="microbank"' });
    return who;
  };

  route(app, '/transfers', {
    post: async (c) => {
      const who = authenticated(c.req.header('authorization'));
      const idempotency = parseIdempotencyKey(c.req.header('idempotency-key'));
      if ('problem' in idempotency) throw httpError(400, idempotency.problem, { error: 'idempotency_key' });
      const text = await c.req.text();
      let request: TransferRequest;
      try {
        request = admitted(who, c.req.header('content-type') ?? '', text);
      } catch (error) {
        // A key this client used before answers what it made, whatever refusal a new request
        // would meet now (an account gone from the registry, an instance catching up, Redis short of
        // room): a retry must never be told to send a new transfer while the first one pays. The
        // key's answer comes first; it is looked up here, on the way to a refusal, because a
        // request that passes needs no lookup of its own: the request script answers a key used
        // before, atomically, in the same round trip that records a new one.
        if (!(error instanceof HTTPException)) throw error;
        // Redis away here: its 503 (try again), never the refusal, which a client could take as final.
        const earlier = await transferOfKey(redis, who.client, idempotency.key, prefix);
        if (earlier) return answerEarlier(c, earlier, text);
        throw error;
      }
      const requested = await makeRequest(request, who.client, idempotency.key);
      if (requested.kind === 'key-reused') throw keyReused(requested.transfer);
      if (!requested.confirmed) throw indeterminate(requested.transfer);
      const status =
        requested.kind === 'new'
          ? 'pending'
          : ((await transferStatus(redis, requested.transfer, prefix))?.status ?? 'pending');
      return c.json({ transfer: requested.transfer, status }, 202, { location: `/transfers/${requested.transfer}` });
    },
  });

  /**
   * Makes the request; a new one is delivered to this replica's processor by the same script when
   * the processor has room, and its saga starts without waiting for a read of the group.
   */
  async function makeRequest(request: TransferRequest, client: string, key: string): Promise<Requested> {
    const reservation = options.processor?.reserve();
    let delivered: Delivery | undefined;
    try {
      const requested = await requestTransfer(redis, request, client, key, prefix, retentionMs, reservation?.deliverTo);
      if (requested.kind === 'new') delivered = requested.delivered;
      return requested;
    } finally {
      if (delivered) reservation?.take(delivered);
      else reservation?.release();
    }
  }

  /** A new transfer request as the API takes it, or the HTTPException that refuses it. */
  function admitted(who: { client: string; mayDebit(account: string): boolean }, type: string, text: string) {
    if (!/^application\/json\s*(;|$)/i.test(type)) {
      throw httpError(415, 'the body must be JSON, sent as Content-Type: application/json');
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
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
    // Decided on the credential alone, before the registry is asked: a 403 says nothing of
    // which accounts exist.
    if (!who.mayDebit(request.from)) {
      throw httpError(403, `this credential may not debit ${request.from}`, { client: who.client });
    }
    assertServing(projection);
    const unknown: Record<string, string> = {};
    for (const field of ['from', 'to'] as const) {
      if (!registry.accounts.has(request[field])) unknown[field] = `no account named ${request[field]}`;
    }
    if (Object.keys(unknown).length > 0) {
      throw httpError(422, 'the transfer names an unknown account', { error: 'unknown_account', fields: unknown });
    }
    if (admission.refusal !== undefined) {
      if (admission.refusal === 'unread') {
        throw httpError(
          503,
          'the room left in Redis is not known right now (its memory could not be read lately); try again',
          {},
          { 'retry-after': '1' },
        );
      }
      throw httpError(
        503,
        'the bank is short of room: new transfers wait until memory is freed (those accepted still settle); try again later',
        { error: 'full' },
        { 'retry-after': '5' },
      );
    }
    return request;
  }

  /** The answer to a key used before: the same transfer and its status now, or 422 for another body. */
  async function answerEarlier(c: Context, earlier: { transfer: string; fingerprint: string }, text: string) {
    if (fingerprintOfBody(text) !== earlier.fingerprint) throw keyReused(earlier.transfer);
    const status = (await transferStatus(redis, earlier.transfer, prefix))?.status ?? 'pending';
    return c.json({ transfer: earlier.transfer, status }, 202, { location: `/transfers/${earlier.transfer}` });
  }

  route(app, '/transfers/:id', {
    get: async (c) => {
      const who = authenticated(c.req.header('authorization'));
      const id = c.req.param('id') ?? '';
      const status = UUID.test(id) ? await transferStatus(redis, id, prefix) : undefined;
      // A client sees what it requested and what debits an account it may debit; anything else
      // answers as if it did not exist.
      if (!status || (status.client !== who.client && !who.mayDebit(status.from))) {
        throw httpError(404, `no transfer ${id.slice(0, 64)}`, { transfer: id.slice(0, 64) });
      }
      return c.json(status);
    },
  });

  return app;
}
