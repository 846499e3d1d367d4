/**
 * A write the bank acknowledges, confirmed by replicas before it is: Redis replicates
 * asynchronously, so a write its primary took and no replica holds yet is lost when that primary
 * fails and a replica takes over. `WAIT n t` answers how many replicas hold what the connection
 * wrote up to its last write. It has no key: on a cluster client a lone WAIT goes to any node, so
 * it rides in the pipeline of the keyed write, which is sent to that key's primary as a whole
 * (redis-cluster.test.ts proves the routing).
 *
 * Right before the WAIT, the pipeline writes the slot's confirmation mark (confirmKey) again. A
 * write that finds its work done (a request sent again with its key, a saga step run again) writes
 * nothing itself, and Redis 7.2 on moves a connection's WAIT offset only after a command that
 * replicated something (7.0 moved it after every command): without the mark, WAIT would confirm
 * only what this connection wrote before, not the first write, made by another connection and
 * perhaps on no replica. With it, WAIT waits for everything the primary held then. The same holds
 * for a pipeline ioredis sends again on a new connection after the old one closed.
 *
 * Not covered: ioredis sends a script again on its own after NOSCRIPT, outside the pipeline and so
 * after the WAIT. A connection meets NOSCRIPT only when the script cache of the server it is still
 * connected to was flushed (SCRIPT FLUSH): a new primary is a new connection, which sends the
 * script's text first.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import type { ChainableCommander } from 'ioredis';
import { confirmKey } from './keys.ts';
import {
  confirmationOf,
  FAILOVER_RETRY_MS,
  FAILOVER_RIDE_OUT_MS,
  isCluster,
  type RedisClient,
} from './redis-connection.ts';

/**
 * The write was made on the primary, and fewer replicas than asked confirmed it in time: it may yet
 * be lost in a failover. The outcome is indeterminate; the same write sent again (every write the
 * bank acknowledges is idempotent) settles it.
 */
export class Unconfirmed extends Error {
  override name = 'Unconfirmed';
  constructor(
    /** What the write answered, as if it had been confirmed. */
    readonly reply: unknown,
    readonly confirmedBy: number,
    readonly wanted: number,
  ) {
    super(`the write was confirmed by ${confirmedBy} of the ${wanted} replicas asked: it may be lost in a failover`);
  }
}

/**
 * Sends the commands `write` queues (all of the slot of `key`) and, when the connection's writes
 * are confirmed (connectRedis' settings), the slot's confirmation mark and WAIT behind them. Answers
 * the last write command's reply; throws the first command error, or Unconfirmed (with that reply)
 * when the replicas did not confirm in time. A write the slot's move kept from being made (MOVED,
 * ASK, TRYAGAIN, CLUSTERDOWN) is sent again once the slot's node is known, within the ride-out.
 */
export async function confirmedWrite<T>(
  redis: RedisClient,
  key: string,
  write: (pipeline: ChainableCommander) => void,
): Promise<T> {
  const { replicas, timeoutMs } = confirmationOf(redis);
  const started = performance.now();
  for (;;) {
    const pipeline = redis.pipeline();
    write(pipeline);
    const written = pipeline.length;
    if (replicas > 0) pipeline.set(confirmKey(key), '1').call('WAIT', String(replicas), String(timeoutMs));
    if (pipeline.length === 0) throw new Error('confirmedWrite was given no command');
    const replies = (await pipeline.exec()) ?? [];
    if (replies.length !== pipeline.length) throw new Error('the write pipeline was discarded (the connection closed)');
    const failed = replies.slice(0, written + (replicas > 0 ? 1 : 0)).find(([error]) => error)?.[0];
    if (failed && isCluster(redis) && isRedirect(failed) && performance.now() - started < FAILOVER_RIDE_OUT_MS) {
      // Not made: the slot has moved (a failover, a resharding) or is moving. ioredis follows a
      // redirect by itself only for a pipeline of reads, and this one holds a WAIT: learn where the
      // slot is now, and send it all again, as the cluster client does for a lone command.
      await new Promise<void>((resolve) => redis.refreshSlotsCache(() => resolve()));
      await sleep(FAILOVER_RETRY_MS);
      continue;
    }
    if (failed) throw failed;
    const reply = (written > 0 ? replies[written - 1]?.[1] : undefined) as T;
    if (replicas === 0) return reply;
    const [waitError, confirmedBy] = replies[written + 1] ?? [];
    // WAIT failing (the connection closed under it) confirms nothing.
    if (waitError || typeof confirmedBy !== 'number' || confirmedBy < replicas) {
      throw new Unconfirmed(reply, typeof confirmedBy === 'number' ? confirmedBy : 0, replicas);
    }
    return reply;
  }
}

/**
 * Confirms that the replicas hold everything the primary of `key`'s slot holds now (what other
 * connections wrote there included): the saga runs only on a request its replicas hold. Throws
 * Unconfirmed when they do not in time; nothing when the connection's writes are not confirmed.
 */
export async function confirmHeld(redis: RedisClient, key: string): Promise<void> {
  if (confirmationOf(redis).replicas > 0) await confirmedWrite(redis, key, () => {});
}

/** A reply that says the command was not made here, not now: sent again later it is. */
const isRedirect = (error: Error) => /^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN)\b/.test(error.message);
