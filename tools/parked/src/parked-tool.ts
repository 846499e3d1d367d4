/**
 * What `pnpm parked` does, as functions a test calls: list the parked transfers, or re-apply one
 * (its saga run once more, recorded on the parked stream), printing what an operator reads.
 */
import type { ParkedTransfer } from '@microbank/events';
import type { RedisClient } from '@microbank/streams';
import { parkedTransfers, reapplyParked } from '@microbank/transfer';

const COLUMNS = ['parked', 'transfer', 'from', 'to', 'amount', 'deliveries', 'when', 'state', 'reason'] as const;

/** The parked transfers as a table, one line each, oldest first; the reason last, whole. */
export function formatParked(transfers: ParkedTransfer[]): string[] {
  if (transfers.length === 0) return ['no parked transfers'];
  const rows = transfers.map((t) => [
    t.parked,
    t.transfer,
    t.from,
    t.to,
    String(t.amount),
    String(t.deliveries),
    t.parkedAt,
    t.reapplied ? `re-applied: ${t.reapplied.status}` : 'parked',
    t.reason.replace(/\s+/g, ' '),
  ]);
  const widths = COLUMNS.map((column, i) => Math.max(column.length, ...rows.map((row) => (row[i] ?? '').length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return [line(COLUMNS), ...rows.map(line)];
}

export interface ParkedCommand {
  /** A parked entry's ID (its position on the parked stream) to re-apply; absent: list them. */
  retry?: string;
  prefix?: string;
}

/** Runs `pnpm parked` against `redis`; resolves to the exit code. */
export async function runParked(
  redis: RedisClient,
  { retry, prefix }: ParkedCommand,
  print: (line: string) => void,
): Promise<number> {
  if (retry === undefined) {
    const { transfers, skipped } = await parkedTransfers(redis, prefix);
    for (const line of formatParked(transfers)) print(line);
    const waiting = transfers.filter((t) => !t.reapplied).length;
    if (transfers.length > 0)
      print(`${waiting} of ${transfers.length} still parked; re-apply one with --retry <parked>`);
    if (skipped > 0) print(`${skipped} entries of the parked stream do not decode: left out`);
    return 0;
  }
  let outcome: Awaited<ReturnType<typeof reapplyParked>>;
  try {
    outcome = await reapplyParked(redis, retry, prefix);
  } catch (error) {
    print(`re-applying ${retry} failed, it stays parked: ${error instanceof Error ? error.message : String(error)}`);
    return 1;
  }
  switch (outcome.kind) {
    case 'reapplied':
      print(`re-applied ${retry}: transfer ${outcome.transfer} ${outcome.status}`);
      return 0;
    case 'already':
      print(
        `${retry} was re-applied already (${outcome.at}): transfer ${outcome.transfer} ${outcome.status}; nothing run again`,
      );
      return 0;
    case 'unknown':
      print(`no parked entry ${retry}; \`pnpm parked\` lists them`);
      return 1;
  }
}
