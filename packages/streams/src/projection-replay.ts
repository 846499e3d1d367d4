/**
 * A projection reader's catch-up: read each stream's catch-up target, take up a snapshot's
 * positions when there is a good one (or the ends, for a live view), and replay every stream up
 * to its target in prefetched batches, checking before and after that the streams hold what was
 * read (projection-continuity.ts).
 */
import { batchSizer } from './batch-sizer.ts';
import { confirmRead } from './confirmed-write.ts';
import { readBatches, streamEnd } from './event-store.ts';
import type { ReaderContext } from './projection-reading.ts';
import type { ProjectionSnapshots } from './projection-snapshots.ts';
import { compareStreamIds, STREAM_START, type StreamId } from './stream-id.ts';

export async function catchUp(
  reader: ReaderContext,
  /** `live-only`: the streams taken up at their ends; a restore: from the snapshot when it is good. */
  from: 'live-only' | ProjectionSnapshots['restore'] | undefined,
): Promise<void> {
  const { name, redis, log, primary, positions, continuity, listener, progress, retryOn } = reader;
  const started = performance.now();
  const targets = new Map<string, StreamId>();
  const targetOf = async (stream: string) => {
    let target = targets.get(stream);
    if (target === undefined) {
      target = await retryOn(redis, 'reading the catch-up target', () => streamEnd(redis, stream));
      targets.set(stream, target);
    }
    return target;
  };
  await continuity.checkStreams();
  for (const stream of positions.keys()) await targetOf(stream);
  progress.catchUpTarget = targets.get(primary) ?? STREAM_START;
  if (from === 'live-only') {
    for (const [stream, target] of targets) positions.set(stream, target);
  } else if (from !== undefined) {
    const restoredFrom = await retryOn(redis, 'loading the snapshot', () => from(targetOf));
    progress.restoredFrom = restoredFrom;
    for (const [stream, position] of restoredFrom ?? []) positions.set(stream, position);
    // Its positions must be on the streams as they are: not a snapshot of data Redis lost.
    if (restoredFrom) await continuity.checkStreams();
  }
  listener.catchingUp();
  log.info(
    { projection: name, streams: positions.size, catchUpTarget: progress.catchUpTarget, from: positions.get(primary) },
    'catching up',
  );
  // Streams followed while this runs are caught up too: a Map's iteration takes in new keys.
  for (const stream of positions.keys()) {
    await continuity.adopt(stream);
    let target = await targetOf(stream);
    let attempts = 0;
    await retryOn(redis, 'catch-up read', async () => {
      // Read again after a failed attempt: a target read from a primary that then failed may be an
      // entry the new primary never had, and the position must not jump to it.
      if (attempts++ > 0) {
        targets.delete(stream);
        target = await targetOf(stream);
      }
      const from = positions.get(stream) ?? STREAM_START;
      const sizer = batchSizer(reader.maxBatch);
      for await (const batch of readBatches(redis, stream, from, target, sizer)) {
        // Nothing a replica does not hold is applied; a batch not confirmed is read again.
        await confirmRead(redis, [[stream, batch]]);
        reader.consume(stream, batch);
      }
    });
    // Entries deleted at the end of a stream leave nothing to read up to its target.
    if (compareStreamIds(positions.get(stream) ?? STREAM_START, target) < 0) {
      positions.set(stream, target);
      listener.consumed(stream, target, 0);
    }
  }
  // What was read is served from now on: it must have come from the incarnations adopted.
  await continuity.checkStreams();
  reader.skips.flush();
  listener.caughtUp();
  log.info(
    {
      projection: name,
      position: positions.get(primary),
      applied: progress.applied,
      skipped: progress.skipped,
      ms: Math.round(performance.now() - started),
    },
    'caught up; ready',
  );
}
