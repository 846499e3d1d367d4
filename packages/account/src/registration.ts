/** An account says "I am here" on every start: it appends AccountRegistered, retrying until Redis takes it. */
import {
  accountEvents,
  appendEvent,
  errorMessage,
  type Log,
  readyOrReconnect,
  retry,
  type StreamId,
} from '@microbank/events';
import type { Redis } from 'ioredis';

export interface Registration {
  account: string;
  url: string;
  instance: string;
}

export interface RegisterOptions {
  redis: Redis;
  stream: string;
  registration: Registration;
  log: Log;
  retryCapMs: number;
  signal: AbortSignal;
}

/**
 * Appends the registration; returns its stream position. While Redis is unreachable it retries
 * with capped, jittered exponential backoff. A retry after a lost reply may register twice: the
 * registry applies registrations idempotently, so that is harmless.
 */
export async function registerAccount({
  redis,
  stream,
  registration,
  log,
  retryCapMs,
  signal,
}: RegisterOptions): Promise<StreamId> {
  await readyOrReconnect(redis, 3_000, signal);
  return retry(
    () =>
      appendEvent(redis, stream, accountEvents, {
        type: 'AccountRegistered',
        data: { ...registration, registeredAt: new Date().toISOString() },
      }),
    {
      firstMs: 50,
      capMs: retryCapMs,
      signal,
      onFailure: (error, attempt) =>
        log.warn({ attempt: attempt + 1, err: errorMessage(error) }, 'registration not stored yet; retrying'),
    },
  );
}
