/**
 * An account says "I am here" on every start: it opens its ledger (once ever) and appends
 * AccountRegistered, retrying until Redis takes them. Then it keeps checking, after every reconnect and now and then, that its
 * registration is still on the stream, and registers again when it is not (Redis lost its data):
 * otherwise a registry rebuilt from the stream would never list it again.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import { accountEvents, accountRegistered } from '@microbank/events';
import { openLedger } from '@microbank/ledger';
import {
  appendEvent,
  errorMessage,
  isPermanentRedisError,
  type Log,
  type RedisClient,
  readyOrReconnect,
  retry,
  type StreamId,
} from '@microbank/streams';

export interface Registration {
  account: string;
  url: string;
  instance: string;
}

export interface RegisterOptions {
  redis: RedisClient;
  stream: string;
  registration: Registration;
  log: Log;
  retryCapMs: number;
  signal: AbortSignal;
}

/**
 * Opens the account's ledger (once, however often this runs: before any transfer can name the
 * account; with no money, which only the bank issues), then appends the registration; returns its stream position. While Redis is unreachable it retries
 * with capped, jittered exponential backoff; an error no retry fixes (WRONGTYPE, a stream whose
 * last ID is at its maximum) is thrown. A retry after a lost reply may register twice: the
 * registry applies registrations idempotently, so that is harmless.
 */
async function registerAccount({
  redis,
  stream,
  registration,
  log,
  retryCapMs,
  signal,
}: RegisterOptions): Promise<StreamId> {
  await readyOrReconnect(redis, 3_000, signal);
  return retry(
    async () => {
      await openLedger(redis, registration.account);
      return appendEvent(redis, stream, accountEvents, accountRegistered(registration));
    },
    {
      firstMs: 50,
      capMs: retryCapMs,
      signal,
      retryable: (error) => !isPermanentRedisError(error),
      onFailure: (error, attempt) =>
        log.warn({ attempt: attempt + 1, err: errorMessage(error) }, 'registration not stored yet; retrying'),
    },
  );
}

export interface KeepRegisteredOptions extends RegisterOptions {
  /** How often the registration is looked for on the stream. */
  checkEveryMs: number;
  /** How long to wait after an error no retry fixes before trying again. */
  failedRetryMs: number;
}

/** Where the registration stands, and what keeping it has counted. */
export interface RegistrationState {
  /** The stream position of the registration in place; undefined until one is stored. */
  position: StreamId | undefined;
  /** Why the registration cannot be stored (an error no retry fixes); undefined otherwise. */
  problem: string | undefined;
  /** Registrations stored, the first included. */
  registrations: number;
  /** Times storing it failed for a reason no retry fixes. */
  failures: number;
}

export interface KeptRegistration {
  /** Kept up to date while the registration is kept. */
  readonly state: Readonly<RegistrationState>;
  /** Resolves when the keeping has stopped (after `signal` aborted). */
  readonly done: Promise<void>;
}

export function keepRegistered(options: KeepRegisteredOptions): KeptRegistration {
  const { redis, stream, log, signal, checkEveryMs, failedRetryMs } = options;
  const state: RegistrationState = { position: undefined, problem: undefined, registrations: 0, failures: 0 };
  // A reconnect may be a Redis that came back without our registration: look at once.
  let wake = new AbortController();
  const onReady = () => wake.abort();
  redis.on('ready', onReady);

  async function register(): Promise<void> {
    for (;;) {
      try {
        state.position = await registerAccount(options);
        state.problem = undefined;
        state.registrations++;
        log.info({ ...options.registration, position: state.position }, 'registered');
        return;
      } catch (error) {
        if (signal.aborted) throw error;
        state.failures++;
        state.problem = `the registration cannot be stored: ${errorMessage(error)}`;
        log.error({ err: errorMessage(error), retryInMs: failedRetryMs }, 'registration failed; not ready');
        await sleep(failedRetryMs, undefined, { signal });
      }
    }
  }

  /** True when the registration is still on the stream; a failed look counts as "still there". */
  async function stillRegistered(at: StreamId): Promise<boolean> {
    try {
      return (await redis.xrange(stream, at, at, 'COUNT', 1)).length === 1;
    } catch {
      return true;
    }
  }

  const done = (async () => {
    try {
      await register();
      for (;;) {
        await sleep(checkEveryMs, undefined, { signal: AbortSignal.any([signal, wake.signal]) }).catch(() => {
          signal.throwIfAborted();
        });
        wake = new AbortController();
        const { position } = state;
        if (position !== undefined && !(await stillRegistered(position))) {
          log.warn({ position }, 'the registration is gone from the stream (Redis lost data?); registering again');
          state.position = undefined;
          await register();
        }
      }
    } catch (error) {
      if (!signal.aborted) log.error({ err: errorMessage(error) }, 'keeping the registration stopped unexpectedly');
    } finally {
      redis.off('ready', onReady);
    }
  })();

  return { state, done };
}
