/** Waiting for a condition with a deadline, failing with what was last seen. Never a blind sleep. */

export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** Stop waiting early: when it returns a reason, waitFor fails with it (a process that exited, say). */
  giveUp?: () => string | undefined;
}

/**
 * Polls `probe` until `accept` holds for its value; returns that value. A probe that throws counts
 * as "not yet". On timeout, fails naming `what` and the last value or error seen.
 */
export async function waitFor<T>(
  what: string,
  probe: () => T | Promise<T>,
  accept: (value: T) => boolean = Boolean,
  { timeoutMs = 10_000, intervalMs = 25, giveUp }: WaitOptions = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let seen = 'nothing yet';
  for (;;) {
    try {
      const value = await probe();
      if (accept(value)) return value;
      seen = JSON.stringify(value) ?? String(value);
    } catch (error) {
      seen = error instanceof Error ? `error: ${error.message}` : String(error);
    }
    const reason = giveUp?.();
    if (reason !== undefined) throw new Error(`gave up waiting for ${what}: ${reason}; last seen: ${seen}`);
    if (Date.now() >= deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last seen: ${seen}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
