/**
 * Which Redis errors a retry can fix. A dropped connection, a Redis still loading its AOF or a
 * cluster in the middle of a failover pass; a reply error such as WRONGTYPE (the key is no longer
 * a stream) or "the stream has exhausted the last possible ID" comes back the same however often
 * the command is sent: retrying it as if the connection had dropped only hides it.
 */
import { ReplyError } from 'ioredis';

/**
 * Reply errors that mean "not now": the server is busy, loading, changing roles (a blocked read
 * ends UNBLOCKED when its primary becomes a replica), or full (OOM: at maxmemory with noeviction it
 * refuses writes until memory is freed; the same write then passes).
 */
const TRANSIENT_REPLY = /^(LOADING|BUSY|MASTERDOWN|TRYAGAIN|CLUSTERDOWN|READONLY|NOREPLICAS|MOVED|ASK|OOM|UNBLOCKED)\b/;

/** A Redis at its maxmemory refusing a write: answer "not now" (503), never "internal error" (500). */
export function isRedisFull(error: unknown): boolean {
  return error instanceof ReplyError && /^OOM\b/.test((error as Error).message);
}

export function isPermanentRedisError(error: unknown): boolean {
  return error instanceof ReplyError && !TRANSIENT_REPLY.test((error as Error).message);
}

/**
 * Errors of a Redis that is away or restarting, or of a cluster client that could not ride a
 * failover out: the request may be sent again (with the same key).
 */
const UNAVAILABLE =
  /Stream isn't writeable|Connection is closed|connect ECONNREFUSED|ECONNRESET|EPIPE|ETIMEDOUT|^LOADING|Command timed out|Too many Cluster redirections|Cluster isn't ready|Failed to refresh slots cache|None of startup nodes is available/;

function isRedisUnavailable(error: unknown): boolean {
  return error instanceof Error && (UNAVAILABLE.test(error.message) || error.name === 'MaxRetriesPerRequestError');
}

/**
 * "Not now", short of full: Redis away, loading, busy, or a cluster changing roles (CLUSTERDOWN,
 * TRYAGAIN, READONLY, NOREPLICAS: a primary with no replica in reach refuses writes). The same
 * command later passes. A full Redis (isRedisFull) is left out: it is answered on its own.
 */
export function isRedisNotNow(error: unknown): boolean {
  if (isRedisUnavailable(error)) return true;
  return error instanceof ReplyError && !isPermanentRedisError(error) && !isRedisFull(error);
}
