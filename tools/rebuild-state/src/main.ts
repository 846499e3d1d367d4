/**
 * `pnpm rebuild-state [--account NAME] [--check] [--force] [--prefix P]`: the ledgers' `:state`
 * and `:steps`, which the Lua scripts keep beside each ledger stream, computed again from the
 * streams alone, on REDIS_URL (default: the local stack's Redis).
 *   --account NAME  one account's ledger (default: every account the streams name)
 *   --check         only compare: print each field that differs, exit 1 if any does
 *   --force         rewrite even while transfer processors are alive (a step they make meanwhile is lost)
 * Without --check, each ledger whose hashes differ is rewritten, in one MULTI per ledger.
 */
import { parseArgs } from 'node:util';
import { ACCOUNT_NAME_PATTERN, KEY_PREFIX } from '@microbank/events';
import { runOperatorCommand } from '@microbank/local-stack';
import { runRebuildState } from './rebuild-tool.ts';

function usage(message: string): never {
  console.error(
    `rebuild-state: ${message}\nusage: pnpm rebuild-state [--account <name>] [--check] [--force] [--prefix <key prefix>]`,
  );
  process.exit(2);
}

let values: { account?: string; check?: boolean; force?: boolean; prefix: string };
try {
  ({ values } = parseArgs({
    options: {
      account: { type: 'string' },
      check: { type: 'boolean' },
      force: { type: 'boolean' },
      prefix: { type: 'string', default: KEY_PREFIX },
    },
  }));
} catch (error) {
  usage((error as Error).message);
}
if (values.account !== undefined && !ACCOUNT_NAME_PATTERN.test(values.account)) {
  usage(`--account takes an account's name, a DNS label (got "${values.account.slice(0, 70)}")`);
}

await runOperatorCommand('rebuild-state', (redis) => runRebuildState(redis, values, (line) => console.log(line)));
