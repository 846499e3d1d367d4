/**
 * What `pnpm compact` does, as a function a test calls: verify the books, find the compaction
 * point, archive what lies before it into a file (synced before anything is removed) and compact
 * (packages/transfer's compaction.ts). The books must say conserved with no violation first: a
 * compaction never removes the history that would show something wrong.
 */
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { startBooks } from '@microbank/ledger';
import { type RedisClient, silentLog } from '@microbank/streams';
import { compact, compactionPoint } from '@microbank/transfer';

export interface CompactRequest {
  redisUrl: string;
  /** Where the archived transfers-stream entries go, one JSON line each; it must not exist yet. */
  archive: string;
  /** Only what settled before this many hours ago is compacted (the retention). */
  olderThanHours: number;
  prefix?: string;
}

/** Runs a compaction, printing what an operator reads; resolves to the exit code. */
export async function runCompact(
  redis: RedisClient,
  request: CompactRequest,
  say: (line: string) => void,
): Promise<number> {
  const { prefix } = request;
  const books = startBooks({ redisAt: request.redisUrl, log: silentLog, name: 'compact', prefix, stateCheckMs: 0 });
  try {
    await books.projection.whenReady();
    const figures = books.audit.figures();
    if (!figures.conserved || figures.violations.count > 0) {
      say(`compact: the books do not check out (${figures.violations.count} violations); nothing compacted`);
      for (const violation of figures.violations.first) say(`  ${JSON.stringify(violation)}`);
      return 1;
    }
    const point = await compactionPoint(redis, Date.now() - request.olderThanHours * 3_600_000, prefix);
    if (point === undefined) {
      say(`compact: nothing settled before ${request.olderThanHours} h ago; nothing compacted`);
      return 0;
    }
    const result = await compact(redis, {
      before: point,
      accounts: [...books.registry.accounts.keys()],
      archive: async (entries) => writeArchive(request.archive, entries),
      checkpoint: JSON.stringify(figures.checkpoint ?? {}),
      prefix,
    });
    say(
      `compact: before ${result.before}: ${result.entries} transfers-stream entries archived to ${request.archive} and trimmed, ${result.steps} step records removed`,
    );
    return 0;
  } finally {
    await books.close();
  }
}

/** Writes the entries as JSON lines into a new file and syncs it to disk. */
function writeArchive(file: string, entries: Array<[string, string[]]>): void {
  const fd = openSync(file, 'wx', 0o600);
  try {
    for (const [id, fields] of entries) writeSync(fd, `${JSON.stringify({ id, fields })}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
