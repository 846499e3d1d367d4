/**
 * Things the audit holds until a stream has been read far enough, kept in the order of the
 * position each waits for, so that finding the ones a stream has passed is O(1) per item, not a
 * walk over all of them (a replay that reads one ledger before the other would otherwise be
 * quadratic). Items mostly arrive in their positions' order, so one is placed from the end.
 * An item that no longer matters stays in place and its owner ignores it when it comes out.
 */

export interface OrderedWaits<Position, Item> {
  readonly size: number;
  add(position: Position, item: Item): void;
  /** Takes out, in order, the items waiting for `position` or an earlier one. */
  takeUpTo(position: Position): Item[];
  /** Takes out the items waiting for a position after `position` that `pick` chooses. */
  takeAfter(position: Position, pick: (item: Item) => boolean): Item[];
}

export function orderedWaits<Position, Item>(
  compare: (a: Position, b: Position) => number,
): OrderedWaits<Position, Item> {
  const queue: Array<{ position: Position; item: Item }> = [];
  let head = 0;
  return {
    get size() {
      return queue.length - head;
    },
    add(position, item) {
      let at = queue.length;
      while (at > head && compare((queue[at - 1] as { position: Position }).position, position) > 0) at--;
      if (at === queue.length) queue.push({ position, item });
      else queue.splice(at, 0, { position, item });
    },
    takeUpTo(position) {
      const taken: Item[] = [];
      while (head < queue.length && compare((queue[head] as { position: Position }).position, position) <= 0) {
        taken.push((queue[head] as { item: Item }).item);
        head++;
      }
      if (head === queue.length) {
        queue.length = 0;
        head = 0;
      } else if (head > 1_024 && head * 2 > queue.length) {
        queue.splice(0, head);
        head = 0;
      }
      return taken;
    },
    takeAfter(position, pick) {
      const taken: Item[] = [];
      for (let at = queue.length - 1; at >= head; at--) {
        const waiting = queue[at] as { position: Position; item: Item };
        if (compare(waiting.position, position) <= 0) break;
        if (pick(waiting.item)) {
          taken.unshift(waiting.item);
          queue.splice(at, 1);
        }
      }
      return taken;
    },
  };
}
