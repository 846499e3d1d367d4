/**
 * A write the bank acknowledges, confirmed by replicas before it is: Redis replicates
 * asynchronously, so a write its primary took and no replica holds yet is lost when that primary
 * fails and a replica takes over. `WAIT n t`, sent in one pipeline right behind the write, answers
 * how many replicas hold everything the connection wrote so far. It has no key: on a cluster client
 * a lone WAIT goes to any node, so it rides in the pipeline of the keyed write, which is sent to that
 * key's primary as a whole (redis-cluster.test.ts proves the routing).
 *
 * A write that repeats one made before (a script that finds its step done) writes nothing. Redis
 * (7.0 here) moves a connection's WAIT offset to the primary's replication offset after *every*
 * command, not only after writes: WAIT behind a command that wrote nothing still waits for all the
 * primary held then, the first write included. confirmed-write.test.ts holds Redis to that; were it
 * to change, a repeat would have to write its record again.
 *
 * Not covered: ioredis sends a script again on its own after NOSCRIPT, outside the pipeline and so
 * after the WAIT. A connection meets NOSCRIPT only when the script cache of the server it is still
 * connected to was flushed (SCRIPT FLUSH): a new primary is a new connection, which sends the
 * script's text first.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import type { ChainableCommander } from 'ioredis';
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
 * Sends the commands `write` queues (all of one slot) and, when the connection's writes are
 * confirmed (connectRedis' settings), WAIT behind them. Answers the last write command's reply;
 * throws the first command error, or Unconfirmed (with that reply) when the replicas did not
 * confirm in time.
 */
export async function confirmedWrite<T>(redis: RedisClient, write: (pipeline: ChainableCommander) => void): Promise<T> {
  const { replicas, timeoutMs } = confirmationOf(redis);
  const started = performance.now();
  for (;;) {
    const pipeline = redis.pipeline();
    write(pipeline);
    const written = pipeline.length;
    if (written === 0) throw new Error('confirmedWrite was given no command');
    if (replicas > 0) pipeline.call('WAIT', String(replicas), String(timeoutMs));
    const replies = (await pipeline.exec()) ?? [];
    if (replies.length !== pipeline.length) throw new Error('the write pipeline was discarded (the connection closed)');
    const failed = replies.slice(0, written).find(([error]) => error)?.[0];
    if (failed && isCluster(redis) && isRedirect(failed) && performance.now() - started < FAILOVER_RIDE_OUT_MS) {
      // Not made: the slot has moved (a failover, a resharding) or is moving. ioredis follows a
      // redirect by itself only for a pipeline of reads, and this one holds a WAIT: learn where the
      // slot is now, and send it all again, as the cluster client does for a lone command.
      await new Promise<void>((resolve) => redis.refreshSlotsCache(() => resolve()));
      await sleep(FAILOVER_RETRY_MS);
      continue;
    }
    if (failed) throw failed;
    const reply = replies[written - 1]?.[1] as T;
    if (replicas === 0) return reply;
    const [waitError, confirmedBy] = replies[written] ?? [];
    // The write was made; WAIT failing (the connection closed under it) confirms nothing.
    if (waitError || typeof confirmedBy !== 'number' || confirmedBy < replicas) {
      throw new Unconfirmed(reply, typeof confirmedBy === 'number' ? confirmedBy : 0, replicas);
    }
    return reply;
  }
}

/** A reply that says the command was not made here, not now: sent again later it is. */
const isRedirect = (error: Error) => /^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN)\b/.test(error.message);
