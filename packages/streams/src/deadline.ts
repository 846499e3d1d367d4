/** A promise held to a deadline: the one way the product races work against a timer. */

export class DeadlineExceeded extends Error {}

/**
 * Resolves or rejects as `work` does, or rejects with DeadlineExceeded after `ms`, calling
 * `onExpire` first (to drop a connection that stopped answering, say).
 */
export function withDeadline<T>(work: Promise<T>, ms: number, what: string, onExpire?: () => void): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      onExpire?.();
      reject(new DeadlineExceeded(`${what}: no answer within ${ms} ms`));
    }, ms);
  });
  return Promise.race([work, expired]).finally(() => clearTimeout(timer));
}
