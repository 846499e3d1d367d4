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

import type { ChainableCommander } from 'ioredis';
import { parseClusterNodes } from './cluster-nodes.ts';
import { confirmKey, hashTagOf } from './keys.ts';
import {
  commandOnNodeOf,
  confirmationOf,
  FAILOVER_RETRY_MS,
  FAILOVER_RIDE_OUT_MS,
  isCluster,
  type RedisClient,
} from './redis-connection.ts';
import type { StreamEntry } from './stream-entry.ts';

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
 *
 * A group commit: a WAIT holds its connection until the replicas answer, so the confirmed writes of
 * one slot that come while a batch of them is under way wait for it, then go together, in one
 * pipeline behind one mark and one WAIT (which covers them all: they are on its connection, before
 * it). Without confirmation there is no WAIT to wait for: the writes asked for in the same turn of
 * the event loop (the next steps of every saga whose replies came in one read) go together at its
 * end, in one pipeline per slot, and none waits for another's reply.
 *
 * So `write` is called, and its commands sent, later than the call: at the end of this turn, or
 * once the slot's batch under way is answered. A command sent straight on the same connection in
 * the meantime may reach Redis first; whatever must follow the write awaits it.
 */
export function confirmedWrite<T>(
  redis: RedisClient,
  key: string,
  write: (pipeline: ChainableCommander) => void,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    dispatch(redis, { key, write, started: performance.now(), resolve: resolve as (reply: unknown) => void, reject });
  });
}

function dispatch(redis: RedisClient, job: Job): void {
  if (confirmationOf(redis).replicas === 0) sendThisTurn(redis, job);
  else queue(redis, job);
}

/** A write waiting to be sent, and what its caller waits on. */
interface Job {
  key: string;
  write: (pipeline: ChainableCommander) => void;
  /** When it was asked for: a write whose slot moves is sent again for up to FAILOVER_RIDE_OUT_MS. */
  started: number;
  resolve(reply: unknown): void;
  reject(error: unknown): void;
}

/** The confirmed writes of one slot (hash tag) on one connection: waiting, and whether a batch is under way. */
interface Lane {
  waiting: Job[];
  sending: boolean;
}

/** The most writes one batch takes: a pipeline's replies are buffered whole. */
const MOST_PER_BATCH = 256;

const lanes = new WeakMap<RedisClient, Map<string, Lane>>();

/**
 * The unconfirmed writes asked for in this turn, by connection and slot (a cluster's pipeline goes
 * to one slot's node; one Redis takes any keys in one pipeline).
 */
const thisTurn = new WeakMap<RedisClient, Map<string, Job[]>>();

function sendThisTurn(redis: RedisClient, job: Job): void {
  let bySlot = thisTurn.get(redis);
  if (!bySlot) {
    const turn = new Map<string, Job[]>();
    bySlot = turn;
    thisTurn.set(redis, turn);
    // After every promise continuation of this turn: the steps they ask for go too.
    process.nextTick(() => {
      thisTurn.delete(redis);
      for (const jobs of turn.values()) {
        for (let from = 0; from < jobs.length; from += MOST_PER_BATCH) {
          void send(redis, jobs.slice(from, from + MOST_PER_BATCH));
        }
      }
    });
  }
  const slot = isCluster(redis) ? hashTagOf(job.key) : '';
  const jobs = bySlot.get(slot);
  if (jobs) jobs.push(job);
  else bySlot.set(slot, [job]);
}

function queue(redis: RedisClient, job: Job): void {
  const byTag = lanes.get(redis) ?? new Map<string, Lane>();
  lanes.set(redis, byTag);
  const tag = hashTagOf(job.key);
  const lane = byTag.get(tag) ?? { waiting: [], sending: false };
  byTag.set(tag, lane);
  lane.waiting.push(job);
  if (!lane.sending) void drain(redis, lane);
}

async function drain(redis: RedisClient, lane: Lane): Promise<void> {
  lane.sending = true;
  try {
    while (lane.waiting.length > 0) await send(redis, lane.waiting.splice(0, MOST_PER_BATCH));
  } finally {
    lane.sending = false;
  }
}

/** Sends `jobs` (of one slot) in one pipeline, behind one mark and one WAIT when writes are confirmed; settles each. */
async function send(redis: RedisClient, jobs: Job[]): Promise<void> {
  const { replicas, timeoutMs } = confirmationOf(redis);
  const pipeline = redis.pipeline();
  // A job whose write throws (before it queued anything: every writer queues its commands in one
  // call) fails alone; the others go.
  const ranges = jobs.map((job) => {
    const from = pipeline.length;
    try {
      job.write(pipeline);
    } catch (error) {
      job.reject(error);
      return undefined;
    }
    if (pipeline.length === from) {
      job.reject(new Error('confirmedWrite was given no command'));
      return undefined;
    }
    return [from, pipeline.length] as const;
  });
  const written = pipeline.length;
  if (written === 0) return;
  const first = jobs[0];
  if (replicas > 0 && first) pipeline.set(confirmKey(first.key), '1').call('WAIT', String(replicas), String(timeoutMs));
  // Counted before exec: when ioredis follows an ASK for the whole pipeline itself, it queues an
  // ASKING before each command, and answers only the commands queued here.
  const sent = pipeline.length;
  let replies: Array<[Error | null, unknown]>;
  try {
    replies = ((await pipeline.exec()) ?? []) as Array<[Error | null, unknown]>;
    if (replies.length !== sent) throw new Error('the write pipeline was discarded (the connection closed)');
  } catch (error) {
    for (const job of jobs) job.reject(error);
    return;
  }
  const [markError] = replies[written] ?? [null];
  const [waitError, confirmedBy] = replies[written + 1] ?? [];
  // WAIT failing (the connection closed under it) confirms nothing.
  const confirmed =
    replicas === 0 || (!markError && !waitError && typeof confirmedBy === 'number' && confirmedBy >= replicas);
  for (const [i, job] of jobs.entries()) {
    const range = ranges[i];
    if (range === undefined) continue;
    const [from, to] = range;
    // A job fails by its own commands. A write made whose mark failed (a full Redis, say) is made
    // and not confirmed: Unconfirmed, below.
    const failed = replies.slice(from, to).find(([error]) => error)?.[0];
    if (failed && isCluster(redis) && isRedirect(failed) && performance.now() - job.started < FAILOVER_RIDE_OUT_MS) {
      // Not made: the slot has moved (a failover, a resharding) or is moving. ioredis follows a
      // redirect by itself only for a pipeline of reads, and this one holds a WAIT: learn where the
      // slot is now, and send it again, as the cluster client does for a lone command.
      redis.refreshSlotsCache(() => setTimeout(() => dispatch(redis, job), FAILOVER_RETRY_MS));
    } else if (failed) {
      job.reject(failed);
    } else {
      const reply = replies[to - 1]?.[1];
      if (confirmed) job.resolve(reply);
      else job.reject(new Unconfirmed(reply, typeof confirmedBy === 'number' ? confirmedBy : 0, replicas));
    }
  }
}

/**
 * The entry `id` of `stream` as the primary of its slot holds it now (undefined when it holds none),
 * read in the pipeline the WAIT confirms: once this answers, the replicas hold everything up to the
 * entry. Reading it again is what makes the confirmation about *this* entry: an entry read from a
 * primary that then failed before any replica held it is gone from the replica that took over, and
 * WAIT there would confirm that replica's own replicas, not the entry. Throws Unconfirmed when the
 * replicas did not confirm in time; without confirmation (a single Redis) it is a plain read.
 */
export async function confirmedEntry(
  redis: RedisClient,
  stream: string,
  id: string,
): Promise<[id: string, fields: string[]] | undefined> {
  const [entry] = await confirmedWrite<Array<[string, string[]]>>(redis, stream, (pipeline) =>
    pipeline.xrange(stream, id, id),
  );
  return entry;
}

/**
 * When the connection's writes are confirmed (a cluster), throws unless the replicas hold every
 * entry of `reads`, so that a projection applies nothing a failover may lose. A primary answers a
 * read with entries no replica has; a projection that applied them would keep their effect (a
 * balance, a settlement) after a failover lost them, and its later positions, on entries the new
 * primary wrote, would hide it from the continuity check. Each stream's last entry read is read
 * again on its slot's primary of now and confirmed (confirmedEntry). Throws Unconfirmed when the
 * replicas do not confirm in time (the caller reads again later), and an Error when the entry is
 * gone (lost with its primary: the caller reads again from where it is). Nothing to do otherwise.
 */
export async function confirmRead(
  redis: RedisClient,
  reads: ReadonlyArray<readonly [stream: string, entries: StreamEntry[]]>,
): Promise<void> {
  if (confirmationOf(redis).replicas === 0) return;
  await Promise.all(
    reads.map(async ([stream, entries]) => {
      const last = entries.at(-1)?.[0];
      if (last === undefined) return;
      const id = last.toString('latin1');
      let entry: [id: string, fields: string[]] | undefined;
      try {
        entry = await confirmedEntry(redis, stream, id);
      } catch (error) {
        // A primary with no replica at all (one just promoted in a shard of one replica, until the
        // old primary rejoins) confirms nothing, yet what it holds can be lost only with it: no
        // node could take its place. Its reads are applied; without this, every projection would
        // stand still until a replica came back. The reply is XRANGE's, as confirmedEntry reads it.
        if (!(error instanceof Unconfirmed) || !(await noReplicaToPromote(redis, stream))) throw error;
        [entry] = error.reply as Array<[string, string[]]>;
      }
      if (!entry) {
        throw new Error(`${stream} no longer holds ${id}, read from it: lost in a failover before a replica held it`);
      }
    }),
  );
}

/**
 * On a cluster: whether the primary serving `key`'s slot has no replica in its view of the cluster,
 * connected or not (a replica cut off or frozen could still be promoted, lacking what it never got).
 * False when the node asked is not a primary, or on a single Redis.
 */
async function noReplicaToPromote(redis: RedisClient, key: string): Promise<boolean> {
  if (!isCluster(redis)) return false;
  const nodes = parseClusterNodes(String(await commandOnNodeOf(redis, key, 'CLUSTER', 'NODES')));
  const myself = nodes.find(({ flags }) => flags.includes('myself'));
  if (!myself?.flags.includes('master')) return false;
  return !nodes.some(({ primaryId }) => primaryId === myself.id);
}

/** A reply that says the command was not made here, not now: sent again later it is. */
const isRedirect = (error: Error) => /^(MOVED|ASK|TRYAGAIN|CLUSTERDOWN)\b/.test(error.message);
