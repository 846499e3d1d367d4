/**
 * The transfers stream as the saga's log, and the status each transfer has: requesting a
 * transfer under a client's Idempotency-Key (request-transfer-3.lua), settling it once
 * (settle-transfer-2.lua), reading its status. All keys share the `{transfers}` hash tag. The
 * working state a client sees (its keys' answers, a settled transfer's status) is kept for the
 * retention (RETENTION_HOURS, 24 by default) and then expires; the streams stay.
 */
import { hash, randomUUID } from 'node:crypto';
import {
  idempotencyKey,
  type Rejection,
  type TransferEvent,
  transferEvents,
  transferStatusKey,
  transfersKey,
} from '@microbank/events';
import type { RedisClient } from '@microbank/ledger';
import {
  confirmedWrite,
  type Delivery,
  defineScript,
  encodeEvent,
  type StreamId,
  Unconfirmed,
} from '@microbank/streams';

export interface TransferRequest {
  from: string;
  to: string;
  amount: number;
}

/** What GET /transfers/:id answers, as the status hash keeps it. */
export interface TransferStatus extends TransferRequest {
  transfer: string;
  status: 'pending' | 'completed' | 'rejected';
  requestedAt: string;
  /** The client whose credential requested it (absent on requests made before credentials existed). */
  client?: string;
  /** The TransferRequested entry on the transfers stream. */
  position?: StreamId;
  reason?: Rejection;
  /** Where the money left and arrived: a balance read that passes these positions sees the transfer. */
  debit?: { account: string; position: StreamId };
  credit?: { account: string; position: StreamId };
  refund?: { account: string; position: StreamId };
  /** The settling entry on the transfers stream. */
  settled?: StreamId;
}

type Script = 'requestTransfer' | 'settleTransfer';

/**
 * Runs a transfers script as a confirmed write (confirmedWrite): answered once the replicas the
 * connection asks for hold it, else Unconfirmed is thrown; a request or a settlement made before
 * (a repeat, which writes nothing) is answered once the replicas hold what the primary held.
 */
function run<Reply>(redis: RedisClient, script: Script, ...args: string[]): Promise<Reply> {
  defineScript(redis, 'requestTransfer', 'request-transfer-3.lua', import.meta.url);
  defineScript(redis, 'settleTransfer', 'settle-transfer-2.lua', import.meta.url);
  return confirmedWrite(redis, args[0] ?? '', (pipeline) => {
    (pipeline as unknown as Record<Script, (...a: string[]) => unknown>)[script](...args);
  });
}

const dataOf = (event: TransferEvent) => encodeEvent(transferEvents, event)[5] as string;

/** How long a client's key and a settled transfer's status are kept by default: 24 hours. */
export const DEFAULT_RETENTION_MS = 24 * 60 * 60 * 1000;

/** A request's fingerprint: the same key must come with the same request. */
export function fingerprintOf({ from, to, amount }: TransferRequest): string {
  return hash('sha256', `${from}\n${to}\n${amount}`);
}

/**
 * What a request made: a new transfer, the one its key made before, or nothing (the key made
 * another). `confirmed` false: it was recorded, but the replicas asked did not confirm it in time;
 * it may be lost in a failover, and the same request again (the same key) settles it.
 */
export type Requested =
  | { kind: 'new'; transfer: string; position: StreamId; confirmed: boolean; delivered?: Delivery }
  | { kind: 'same'; transfer: string; confirmed: boolean }
  | { kind: 'key-reused'; transfer: string };

/** Where a client's Idempotency-Key is kept: keys are scoped to the client that sent them. */
const clientKey = (client: string, key: string) => `${client}/${key}`;

/** The transfer a client's Idempotency-Key made, and that request's fingerprint; undefined for a new key. */
export async function transferOfKey(
  redis: RedisClient,
  client: string,
  key: string,
  prefix?: string,
): Promise<{ transfer: string; fingerprint: string } | undefined> {
  // A confirmed read: answered once the replicas hold what the primary held (confirmed-write.ts).
  const stored = idempotencyKey(clientKey(client, key), prefix);
  const known = await confirmedWrite<string | null>(redis, stored, (pipeline) => pipeline.get(stored));
  if (known === null) return undefined;
  const [transfer = '', fingerprint = ''] = known.split(' ');
  return { transfer, fingerprint };
}

/** A consumer of a group on the transfers stream, to which a new request's script delivers an entry. */
export interface DeliverTo {
  group: string;
  consumer: string;
}

/**
 * Records `client`'s request once per Idempotency-Key; a key the client used before answers its
 * transfer. With `deliverTo`, a new request's script also reads one entry of the group for that
 * consumer (`delivered`), as XREADGROUP would: the oldest unread, this request's own when every
 * entry before it was read.
 */
export async function requestTransfer(
  redis: RedisClient,
  request: TransferRequest,
  client: string,
  key: string,
  prefix?: string,
  retentionMs = DEFAULT_RETENTION_MS,
  deliverTo?: DeliverTo,
): Promise<Requested> {
  const transfer = randomUUID();
  const requestedAt = new Date().toISOString();
  const fingerprint = fingerprintOf(request);
  const event = dataOf({ type: 'TransferRequested', data: { transfer, ...request, key, requestedAt, client } });
  const pending: TransferStatus = { transfer, status: 'pending', ...request, requestedAt, client };
  let confirmed = true;
  type Reply = [string, string, string, StreamId?, string[]?];
  const [kind, known, detail, deliveredId, deliveredFields] = await run<Reply>(
    redis,
    'requestTransfer',
    transfersKey(prefix),
    idempotencyKey(clientKey(client, key), prefix),
    transferStatusKey(transfer, prefix),
    fingerprint,
    transfer,
    event,
    JSON.stringify(pending),
    String(retentionMs),
    ...(deliverTo ? [deliverTo.group, deliverTo.consumer] : []),
  ).catch((error) => {
    if (!(error instanceof Unconfirmed)) throw error;
    confirmed = false;
    return error.reply as Reply;
  });
  if (kind === 'new') {
    const delivered = deliveredId ? { id: deliveredId, fields: deliveredFields ?? [], deliveries: 1 } : undefined;
    return { kind: 'new', transfer: known, position: detail, confirmed, ...(delivered ? { delivered } : {}) };
  }
  return detail === fingerprint
    ? { kind: 'same', transfer: known, confirmed }
    : { kind: 'key-reused', transfer: known };
}

export async function transferStatus(
  redis: RedisClient,
  transfer: string,
  prefix?: string,
): Promise<TransferStatus | undefined> {
  const stored = await redis.get(transferStatusKey(transfer, prefix));
  return stored === null ? undefined : readStatus(stored);
}

/** A stored status, its fields in the order people read them (the scripts' JSON keeps none). */
function readStatus(stored: string): TransferStatus {
  const { transfer, status, from, to, amount, requestedAt, client, position, reason, debit, credit, refund, settled } =
    JSON.parse(stored) as TransferStatus;
  const optional = { client, position, reason, debit, credit, refund, settled };
  return {
    transfer,
    status,
    from,
    to,
    amount,
    requestedAt,
    ...Object.fromEntries(Object.entries(optional).filter(([, value]) => value !== undefined)),
  };
}

/** The statuses of several transfers at once (undefined for one not known). */
export async function transferStatuses(
  redis: RedisClient,
  transfers: string[],
  prefix?: string,
): Promise<Array<TransferStatus | undefined>> {
  if (transfers.length === 0) return [];
  // One slot ({transfers}), so one MGET on a Redis Cluster too.
  const stored = await redis.mget(...transfers.map((transfer) => transferStatusKey(transfer, prefix)));
  return stored.map((value) => (value === null ? undefined : readStatus(value)));
}

export type Settlement =
  | { type: 'TransferCompleted'; debit: StreamId; credit: StreamId }
  | { type: 'TransferRejected'; reason: Rejection; refund?: StreamId };

/** The request's entry acknowledged in a consumer group by the write that settles its transfer. */
export interface Acknowledging {
  group: string;
  entry: StreamId;
  /**
   * The consumer settling it. When the settlement is the group's next entry, it is read for this
   * consumer at once and never left pending (NOACK): no processor is woken to read it and skip it.
   */
  consumer?: string;
}

/**
 * Settles `status`'s transfer once; a transfer already settled keeps its first outcome. With
 * `acknowledging`, the same write acknowledges the request's entry in that group (settled now or
 * before), so that no settled request is left pending, nor a request acknowledged unsettled.
 */
export async function settleTransfer(
  redis: RedisClient,
  status: TransferStatus,
  settlement: Settlement,
  prefix?: string,
  retentionMs = DEFAULT_RETENTION_MS,
  acknowledging?: Acknowledging,
): Promise<{ repeated: boolean }> {
  const { transfer, from, to } = status;
  const [event, final]: [TransferEvent, TransferStatus] =
    settlement.type === 'TransferCompleted'
      ? [
          { type: 'TransferCompleted', data: { transfer, debit: settlement.debit, credit: settlement.credit } },
          {
            ...status,
            status: 'completed',
            debit: { account: from, position: settlement.debit },
            credit: { account: to, position: settlement.credit },
          },
        ]
      : [
          {
            type: 'TransferRejected',
            data: { transfer, reason: settlement.reason, ...(settlement.refund ? { refund: settlement.refund } : {}) },
          },
          {
            ...status,
            status: 'rejected',
            reason: settlement.reason,
            ...(settlement.refund ? { refund: { account: from, position: settlement.refund } } : {}),
          },
        ];
  const [kind] = await run<[string, string]>(
    redis,
    'settleTransfer',
    transfersKey(prefix),
    transferStatusKey(transfer, prefix),
    event.type,
    dataOf(event),
    JSON.stringify(final),
    String(retentionMs),
    ...(acknowledging ? [acknowledging.group, acknowledging.entry] : []),
    ...(acknowledging?.consumer ? [acknowledging.consumer] : []),
  );
  return { repeated: kind === 'repeat' };
}
