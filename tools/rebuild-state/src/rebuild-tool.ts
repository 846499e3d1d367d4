/**
 * What `pnpm rebuild-state` does, as a function a test calls: compute each ledger's `:state` and
 * `:steps` from the streams (packages/ledger's ledger-rebuild.ts), then either compare them with
 * what Redis holds (`check`) or write them over it. It refuses to rewrite while transfer
 * processors are alive or a compaction holds its lock, unless forced, asking again before each
 * ledger it rewrites; and each ledger is folded again under WATCH and written only if no script
 * touched it meanwhile (rewriteLedgerKeeping), so a step made during the run is never wiped.
 */
import { compactionLockKey, processorsPresenceKey } from '@microbank/events';
import { keepingDifferences, keptLedger, rebuildLedgerKeeping, rewriteLedgerKeeping } from '@microbank/ledger';
import { livePresence, type RedisClient } from '@microbank/streams';

export interface RebuildCommand {
  /** One account's ledger; absent: every account the streams name. */
  account?: string;
  /** Only compare: exit 1 when anything differs. */
  check?: boolean;
  /** Rewrite even while processors are alive or a compaction runs. */
  force?: boolean;
  prefix?: string;
}

/** Runs `pnpm rebuild-state` against `redis`; resolves to the exit code. */
export async function runRebuildState(
  redis: RedisClient,
  { account, check = false, force = false, prefix }: RebuildCommand,
  say: (line: string) => void,
): Promise<number> {
  /** Why a rewrite may not go on now, or undefined. */
  const busy = async (): Promise<string | undefined> => {
    const live = await livePresence(redis, processorsPresenceKey(prefix));
    if (live.length > 0) {
      return `${live.length} transfer processors are alive (${live.map((p) => p.instance).join(', ')}); a saga step made during the rewrite would be lost. Stop them, or --force`;
    }
    if ((await redis.exists(compactionLockKey(prefix))) === 1) return 'a compaction is running (its lock is held)';
    return undefined;
  };
  if (!check && !force) {
    const why = await busy();
    if (why) {
      say(`rebuild-state: ${why}; nothing rewritten`);
      return 1;
    }
  }
  const rebuilt = await rebuildLedgerKeeping(redis, account === undefined ? undefined : [account], prefix);
  let differing = 0;
  for (const [name, keeping] of rebuilt) {
    const differences = keepingDifferences(keeping, await keptLedger(redis, name, prefix));
    if (differences.length === 0) continue;
    differing++;
    for (const d of differences) {
      say(`${name} ${d.hash} ${d.field}: kept ${d.kept ?? '(none)'}, the streams say ${d.rebuilt ?? '(none)'}`);
    }
    if (check) continue;
    const why = force ? undefined : await busy();
    if (why) {
      say(`rebuild-state: ${why}; stopped before rewriting ${name}`);
      return 1;
    }
    if (!(await rewriteLedgerKeeping(redis, name, prefix))) {
      say(`rebuild-state: ${name} kept changing while it was folded again; not rewritten`);
      return 1;
    }
  }
  const verb = check ? 'differ' : 'rewritten';
  say(`rebuild-state: ${rebuilt.size} ledgers read from the streams, ${differing} ${verb}`);
  return check && differing > 0 ? 1 : 0;
}
