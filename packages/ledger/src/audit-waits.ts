/**
 * Things the audit holds until a stream has been read far enough, in a binary heap by the
 * position each waits for: adding one and taking out those a stream has passed cost O(log n)
 * each, whatever order they come in. (A sorted list placed from the end was quadratic on a
 * replay: the books read every outcome first, then each ledger in turn, and a ledger's credits
 * wait on their source ledgers' debits, among the outcomes' waits, from their start.) An item
 * that no longer matters stays in and its owner ignores it when it comes out.
 */

import { compareStreamIds, type StreamId } from '@microbank/streams';

export interface OrderedWaits<Position, Item> {
  readonly size: number;
  add(position: Position, item: Item): void;
  /** Takes out, in order, the items waiting for `position` or an earlier one. */
  takeUpTo(position: Position): Item[];
  /** Takes out the items waiting for a position after `position` that `pick` chooses (a walk over all of them). */
  takeAfter(position: Position, pick: (item: Item) => boolean): Item[];
}

interface Waiting<Position, Item> {
  position: Position;
  item: Item;
  /** Order of arrival: items waiting for the same position come out in it. */
  order: number;
}

export function orderedWaits<Position, Item>(
  compare: (a: Position, b: Position) => number,
): OrderedWaits<Position, Item> {
  let heap: Array<Waiting<Position, Item>> = [];
  let arrivals = 0;
  const before = (a: Waiting<Position, Item>, b: Waiting<Position, Item>) =>
    (compare(a.position, b.position) || a.order - b.order) < 0;
  const up = (at: number) => {
    const moving = heap[at] as Waiting<Position, Item>;
    while (at > 0) {
      const parent = (at - 1) >> 1;
      if (!before(moving, heap[parent] as Waiting<Position, Item>)) break;
      heap[at] = heap[parent] as Waiting<Position, Item>;
      at = parent;
    }
    heap[at] = moving;
  };
  const down = (at: number) => {
    const moving = heap[at] as Waiting<Position, Item>;
    for (;;) {
      const left = 2 * at + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child =
        right < heap.length && before(heap[right] as Waiting<Position, Item>, heap[left] as Waiting<Position, Item>)
          ? right
          : left;
      if (!before(heap[child] as Waiting<Position, Item>, moving)) break;
      heap[at] = heap[child] as Waiting<Position, Item>;
      at = child;
    }
    heap[at] = moving;
  };
  return {
    get size() {
      return heap.length;
    },
    add(position, item) {
      heap.push({ position, item, order: arrivals++ });
      up(heap.length - 1);
    },
    takeUpTo(position) {
      const taken: Item[] = [];
      while (heap.length > 0 && compare((heap[0] as Waiting<Position, Item>).position, position) <= 0) {
        taken.push((heap[0] as Waiting<Position, Item>).item);
        const last = heap.pop() as Waiting<Position, Item>;
        if (heap.length > 0) {
          heap[0] = last;
          down(0);
        }
      }
      return taken;
    },
    takeAfter(position, pick) {
      const taken: Array<Waiting<Position, Item>> = [];
      const kept: Array<Waiting<Position, Item>> = [];
      for (const waiting of heap) {
        if (compare(waiting.position, position) > 0 && pick(waiting.item)) taken.push(waiting);
        else kept.push(waiting);
      }
      if (taken.length === 0) return [];
      heap = kept;
      for (let at = (heap.length >> 1) - 1; at >= 0; at--) down(at);
      return taken.sort((a, b) => (before(a, b) ? -1 : 1)).map((waiting) => waiting.item);
    },
  };
}

/** A stream ID read once into numbers, so that a heap compares numbers, not strings, O(log n) times. */
export interface StreamIdKey {
  ms: number;
  seq: number;
  id: StreamId;
}

export function streamIdKey(id: StreamId): StreamIdKey {
  const dash = id.indexOf('-');
  return { ms: Number(id.slice(0, dash)), seq: Number(id.slice(dash + 1)), id };
}

/** Orders keys as compareStreamIds orders their IDs (the IDs decide where numbers past 2^53 are inexact). */
export function compareStreamIdKeys(a: StreamIdKey, b: StreamIdKey): number {
  return a.ms - b.ms || a.seq - b.seq || (a.id === b.id ? 0 : compareStreamIds(a.id, b.id));
}
