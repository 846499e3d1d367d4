/**
 * `pnpm compact --archive <file> [--older-than-hours 24] [--prefix P]`: shrink what settled
 * transfers leave behind to their ledger entries. Verifies the books (conserved, no violation),
 * archives the transfers-stream entries before the latest quiet cut older than the retention into
 * <file> (JSON lines, a new file), records the compaction point, removes the ledgers' step records
 * before it, and trims the stream. Works on REDIS_URL (default: the local stack's Redis).
 */
import { parseArgs } from 'node:util';
import { KEY_PREFIX } from '@microbank/events';
import { runOperatorCommand, stackRedisUrl } from '@microbank/local-stack';
import { runCompact } from './compact-tool.ts';

function usage(message: string): never {
  console.error(
    `compact: ${message}\nusage: pnpm compact --archive <new file> [--older-than-hours <hours, default 24>] [--prefix <key prefix>]`,
  );
  process.exit(2);
}

let values: { archive?: string; 'older-than-hours': string; prefix: string };
try {
  ({ values } = parseArgs({
    options: {
      archive: { type: 'string' },
      'older-than-hours': { type: 'string', default: '24' },
      prefix: { type: 'string', default: KEY_PREFIX },
    },
  }));
} catch (error) {
  usage((error as Error).message);
}
if (values.archive === undefined) usage('--archive is required: the file the trimmed entries are kept in');
const hours = values['older-than-hours'];
if (!/^\d{1,5}$/.test(hours)) usage(`--older-than-hours takes a whole number of hours (got "${hours.slice(0, 20)}")`);

const archive = values.archive;
await runOperatorCommand('compact', (redis) =>
  runCompact(
    redis,
    { redisUrl: stackRedisUrl(), archive, olderThanHours: Number(hours), prefix: values.prefix },
    (line) => console.log(line),
  ),
);
