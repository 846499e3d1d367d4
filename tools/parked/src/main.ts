/**
 * `pnpm parked [--retry <parked>]`: the transfers whose saga failed at every delivery, which the
 * processors parked instead of trying them forever (newest last), read from REDIS_URL (default:
 * the local stack's Redis).
 *   --retry <parked>  once the cause is fixed, re-apply that parked entry: its saga runs once more
 *                     (every step is decided once, so nothing moves twice) and the parked stream
 *                     records it; a second --retry runs nothing
 *   --prefix P        the key prefix (default microbank), as the tests use
 */
import { parseArgs } from 'node:util';
import { KEY_PREFIX } from '@microbank/events';
import { runOperatorCommand } from '@microbank/local-stack';
import { isStreamId } from '@microbank/streams';
import { runParked } from './parked-tool.ts';

function usage(message: string): never {
  console.error(`parked: ${message}\nusage: pnpm parked [--retry <parked entry ID>] [--prefix <key prefix>]`);
  process.exit(2);
}

let values: { retry?: string; prefix?: string };
try {
  ({ values } = parseArgs({
    options: { retry: { type: 'string' }, prefix: { type: 'string', default: KEY_PREFIX } },
  }));
} catch (error) {
  usage((error as Error).message);
}
if (values.retry !== undefined && !isStreamId(values.retry)) {
  usage(`--retry takes a parked entry's ID, such as 1796390932596-0 (got "${values.retry.slice(0, 60)}")`);
}

await runOperatorCommand('parked', (redis) => runParked(redis, values, (line) => console.log(line)));
