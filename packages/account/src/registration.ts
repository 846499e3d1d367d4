/** An account says "I am here" on every start: it appends AccountRegistered, retrying until Redis takes it. */
import { appendEvent, errorMessage, type Log, readyOrReconnect, type StreamId } from '@microbank/events';
import { backOff } from 'exponential-backoff';
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
  return backOff(
    () => {
      signal.throwIfAborted();
      return appendEvent(redis, stream, {
        type: 'AccountRegistered',
        data: { ...registration, registeredAt: new Date().toISOString() },
      });
    },
    {
      numOfAttempts: Number.MAX_SAFE_INTEGER,
      startingDelay: 50,
      maxDelay: retryCapMs,
      jitter: 'full',
      retry: (error, attempt) => {
        if (signal.aborted) return false;
        log.warn({ attempt, err: errorMessage(error) }, 'registration not stored yet; retrying');
        return true;
      },
    },
  );
}
