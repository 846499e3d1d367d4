/**
 * The negative control's transfer replica: the stack's transfer service run once more beside it,
 * with the same settings but REDIS_CONFIRM_REPLICAS=0, so it acknowledges (202) a request as soon
 * as the primary took it, whether or not a replica holds it. Sent transfers while a shard's replicas
 * lag, it is what the chaos check must catch losing money. It serves the stack's operator (the
 * credential tools send), so its transfers are the same client's as on the stack's replicas.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { type StackPlan, stackCredential } from '@microbank/local-stack';
import { type NodeProcess, REPO_ROOT, spawnNode, waitFor } from '@microbank/processes';
import { freePort } from '@microbank/redis-runner';

export interface UnconfirmedTransfer {
  /** Its base URL, for the transfer load. */
  url: string;
  process: NodeProcess;
  stop(): Promise<void>;
}

export async function startUnconfirmedTransfer(plan: StackPlan): Promise<UnconfirmedTransfer> {
  const spec = plan.services.find((each) => each.program === 'transfer');
  if (!spec) throw new Error('the stack runs no transfer service');
  const port = await freePort();
  // TRANSFER_CLIENTS names each client by its credential's SHA-256 (the transfer service's contract).
  const sha256 = createHash('sha256').update(stackCredential(plan.dataDir)).digest('hex');
  const bundle = join('packages', 'transfer', 'dist', 'main.mjs');
  const entry = existsSync(join(REPO_ROOT, bundle)) ? bundle : join('packages', 'transfer', 'src', 'main.ts');
  const child = spawnNode(entry, {
    args: ['transfer-unconfirmed'],
    env: {
      ...spec.env,
      PORT: String(port),
      REDIS_CONFIRM_REPLICAS: '0',
      TRANSFER_CLIENTS: JSON.stringify([{ client: 'operator', sha256, debits: '*' }]),
    },
    keepLines: 2_000,
  });
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    await child.stop();
  };
  try {
    await waitFor(
      'the unconfirmed transfer replica to be ready',
      async () => {
        if (child.exit) throw new Error(`it exited: ${child.lines.slice(-5).join('\n')}`);
        const response = await fetch(`${url}/readyz`, { signal: AbortSignal.timeout(1_000) });
        await response.body?.cancel();
        return response.ok;
      },
      Boolean,
      {
        timeoutMs: 60_000,
        intervalMs: 100,
        giveUp: () => (child.exit ? `it exited: ${child.lines.slice(-5).join(' | ')}` : undefined),
      },
    );
  } catch (error) {
    await stop();
    throw error;
  }
  return { url, process: child, stop };
}
