/**
 * The one backoff of the product: exponential from `firstMs`, capped at `capMs`, with equal jitter
 * (AWS's "equal jitter": half the exponential bound, plus a uniform pick below the other half, so
 * that many clients that failed together do not retry together, and none retries at once). Ours rather than a library's because every wait must
 * end at once when the caller stops (SIGTERM), and the same delays feed ioredis' reconnects.
 */
import { setTimeout as sleep } from 'node:timers/promises';

export interface Backoff {
  /** The bound of the first wait. */
  firstMs: number;
  /** No wait is longer than this. */
  capMs: number;
}

/** How long to wait before attempt `attempt + 1` (attempt 0 is the first failure). */
export function backoffDelay(attempt: number, { firstMs, capMs }: Backoff): number {
  const bound = Math.min(capMs, firstMs * 2 ** Math.min(attempt, 30));
  return Math.round(bound / 2 + (Math.random() * bound) / 2);
}

export interface RetryOptions extends Backoff {
  /** Ends the waiting (and the retrying) at once; the pending error is rethrown. */
  signal?: AbortSignal;
  /** Runs before every attempt, e.g. waiting for the connection; its failure counts as the attempt's. */
  beforeAttempt?: () => Promise<void>;
  /** Told of each failure before the wait (attempt 0 is the first). */
  onFailure?: (error: unknown, attempt: number) => void;
  /** False for an error no retry can fix: it is rethrown at once. */
  retryable?: (error: unknown) => boolean;
}

/** Runs `step` until it succeeds, waiting `backoffDelay` between failures. */
export async function retry<T>(step: () => Promise<T>, options: RetryOptions): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      await options.beforeAttempt?.();
      return await step();
    } catch (error) {
      if (options.signal?.aborted || options.retryable?.(error) === false) throw error;
      options.onFailure?.(error, attempt);
      await sleep(backoffDelay(attempt, options), undefined, { signal: options.signal });
    }
  }
}
