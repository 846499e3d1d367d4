/** Reads that wait, bounded, until a projection has consumed a given entry of a stream: read-your-writes. */
import { compareStreamIds, type StreamId } from './stream-id.ts';

export interface PositionWaiters {
  /** Resolves true once `reached` passes `id` on `stream`, false after `timeoutMs` or on `cancelAll`. */
  wait(stream: string, id: StreamId, timeoutMs: number): Promise<boolean>;
  /** The projection has consumed `stream` up to `position`. */
  reached(stream: string, position: StreamId): void;
  cancelAll(): void;
  /** How many reads wait now. */
  readonly waiting: number;
}

export function positionWaiters(): PositionWaiters {
  const waiting = new Set<{ stream: string; id: StreamId; done: (reached: boolean) => void }>();
  return {
    wait(stream, id, timeoutMs) {
      return new Promise((resolve) => {
        const waiter = {
          stream,
          id,
          done: (reached: boolean) => {
            clearTimeout(timer);
            waiting.delete(waiter);
            resolve(reached);
          },
        };
        const timer = setTimeout(() => waiter.done(false), timeoutMs);
        waiting.add(waiter);
      });
    },
    reached(stream, position) {
      if (waiting.size === 0) return;
      for (const waiter of waiting) {
        if (waiter.stream === stream && compareStreamIds(waiter.id, position) <= 0) waiter.done(true);
      }
    },
    cancelAll() {
      for (const waiter of waiting) waiter.done(false);
    },
    get waiting() {
      return waiting.size;
    },
  };
}
