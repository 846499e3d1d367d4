/**
 * What the bench asks of the cluster it kills primaries in: who serves a slot, and whether the
 * cluster is whole again (every slot served, every node known and healthy, every replica in sync).
 * It reads `CLUSTER NODES` and `INFO` through redis-cli, as tools/redis-runner's cluster-view does;
 * that module is not a dependency of the bench (see docs/performance.md, cluster section).
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { waitFor } from '@microbank/testing';

const run = promisify(execFile);

export interface NodeSeen {
  id: string;
  port: number;
  primary: boolean;
  /** The primary's id, for a replica. */
  primaryId?: string;
  /** `fail`, `fail?`, `handshake`, ... besides the role. */
  flags: string[];
  slots: Array<[number, number]>;
}

export async function ask(port: number, args: string[], timeoutMs = 2_000): Promise<string> {
  const { stdout } = await run('redis-cli', ['-p', String(port), ...args], { timeout: timeoutMs });
  return stdout.trim();
}

/** `CLUSTER NODES` as the node on `port` sees the cluster. */
export async function nodesSeenBy(port: number): Promise<NodeSeen[]> {
  return (await ask(port, ['CLUSTER', 'NODES']))
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => {
      const [id = '', address = '', flags = '', master = '-', , , , , ...slots] = line.trim().split(' ');
      return {
        id,
        port: Number(/:(\d+)@/.exec(address)?.[1]),
        primary: flags.split(',').includes('master'),
        primaryId: master === '-' ? undefined : master,
        flags: flags.split(','),
        // `[slot->-id]` is a slot being migrated: not served here yet.
        slots: slots
          .filter((field) => !field.startsWith('['))
          .map((field): [number, number] => {
            const [from, to = from] = field.split('-');
            return [Number(from), Number(to)];
          }),
      };
    });
}

export const serves = (node: NodeSeen, slot: number) => node.slots.some(([from, to]) => from <= slot && slot <= to);

/** The live primary serving `slot` as the first answering node among `ports` sees it. */
export async function primaryOf(ports: number[], slot: number): Promise<NodeSeen> {
  for (const port of ports) {
    try {
      const found = (await nodesSeenBy(port)).find(
        (node) => node.primary && !node.flags.includes('fail') && serves(node, slot),
      );
      if (found) return found;
    } catch {}
  }
  throw new Error(`no node of the cluster names a primary for slot ${slot}`);
}

/** `CLUSTER KEYSLOT key`, asked of the first node that answers. */
export async function slotOfKey(ports: number[], key: string): Promise<number> {
  for (const port of ports) {
    try {
      return Number(await ask(port, ['CLUSTER', 'KEYSLOT', key]));
    } catch {}
  }
  throw new Error('no node of the cluster answered CLUSTER KEYSLOT');
}

/**
 * Waits until every node on `ports` says cluster_state:ok and knows them all, `primaries` of them
 * primaries, none failing or in handshake, and every replica has its primary's link up and
 * synced (before that, WAIT does not count it). Fails after `timeoutMs`.
 */
export async function untilWhole(ports: number[], primaries: number, timeoutMs: number): Promise<void> {
  await waitFor(
    `the cluster to be whole (${ports.length} nodes, ${primaries} primaries, every replica in sync)`,
    async () => {
      // What is not whole yet, as the timeout's message shows it.
      for (const port of ports) {
        if (!/cluster_state:ok/.test(await ask(port, ['CLUSTER', 'INFO']))) return `${port}: cluster_state not ok`;
        const view = await nodesSeenBy(port);
        if (view.length !== ports.length) return `${port} knows ${view.length} nodes`;
        if (view.filter((node) => node.primary).length !== primaries)
          return `${port} sees other than ${primaries} primaries`;
        const unwell = view.find((node) => node.flags.some((flag) => flag === 'handshake' || flag.startsWith('fail')));
        if (unwell) return `${port} sees ${unwell.port} as ${unwell.flags.join(',')}`;
        const myself = view.find((node) => node.flags.includes('myself'));
        if (myself && !myself.primary) {
          const replication = await ask(port, ['INFO', 'replication']);
          if (!/master_link_status:up/.test(replication) || /master_sync_in_progress:1/.test(replication))
            return `replica ${port} not in sync`;
        }
      }
      return 'whole';
    },
    (state) => state === 'whole',
    { timeoutMs, intervalMs: 100 },
  );
}
