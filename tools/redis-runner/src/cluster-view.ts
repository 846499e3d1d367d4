/**
 * How a Redis Cluster looks from one of its nodes (`CLUSTER NODES`, `CLUSTER INFO`, through
 * redis-cli), and the wait until every node sees it whole: shared by the test clusters in temporary
 * dirs and the local stack's cluster that lives in its data dir.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { type WaitOptions, waitFor } from '@microbank/processes';

const run = promisify(execFile);

/** One line of `CLUSTER NODES`, as one node sees the cluster. */
export interface ClusterNodeView {
  id: string;
  port: number;
  role: 'primary' | 'replica';
  /** For a replica, the id of its primary. */
  primaryId: string | undefined;
  /** `myself`, `master`, `slave`, `fail?`, `fail`, `handshake`, `noaddr`, ... */
  flags: string[];
  /** Slot ranges served (inclusive), for a primary. */
  slots: Array<[number, number]>;
}

/** A command on the node at 127.0.0.1:`port` through redis-cli; its raw answer, trimmed. */
export async function clusterCommand(port: number, args: string[], timeoutMs = 3000): Promise<string> {
  const { stdout } = await run('redis-cli', ['-p', String(port), ...args], { timeout: timeoutMs });
  return stdout.trim();
}

/** `CLUSTER NODES` as the node on `port` sees it. */
export async function clusterTopology(port: number): Promise<ClusterNodeView[]> {
  return parseClusterNodes(await clusterCommand(port, ['CLUSTER', 'NODES']));
}

export function servesSlot(node: ClusterNodeView, slot: number): boolean {
  return node.slots.some(([from, to]) => from <= slot && slot <= to);
}

/** The primary that serves `slot` in `view` (not one flagged failed) and its replicas. */
export function shardIn(
  view: ClusterNodeView[],
  slot: number,
): { primary: ClusterNodeView; replicas: ClusterNodeView[] } | undefined {
  const primary = view.find(
    (node) => node.role === 'primary' && !node.flags.includes('fail') && servesSlot(node, slot),
  );
  if (!primary) return undefined;
  return { primary, replicas: view.filter((node) => node.primaryId === primary.id) };
}

/** `1000-2000 5000` for the ranges a primary serves. */
export function describeSlots(slots: Array<[number, number]>): string {
  return slots.map(([from, to]) => (from === to ? String(from) : `${from}-${to}`)).join(' ') || 'no slots';
}

/** Parses `CLUSTER NODES`: `<id> <ip:port@cport> <flags> <master> <ping> <pong> <epoch> <link> <slot>...`. */
export function parseClusterNodes(text: string): ClusterNodeView[] {
  return text
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => {
      const [id = '', address = '', flagList = '', master = '-', , , , , ...slotFields] = line.trim().split(' ');
      const flags = flagList.split(',');
      const port = Number(/:(\d+)@/.exec(address)?.[1] ?? Number.NaN);
      const slots = slotFields
        // `[slot->-id]` / `[slot-<-id]` are slots being migrated: not served here yet.
        .filter((field) => !field.startsWith('['))
        .map((field): [number, number] => {
          const [from, to = from] = field.split('-');
          return [Number(from), Number(to)];
        });
      return {
        id,
        port,
        role: flags.includes('master') ? 'primary' : 'replica',
        primaryId: master === '-' ? undefined : master,
        flags,
        slots,
      };
    });
}

/**
 * Waits until the cluster is whole as each node on `ports` sees it: every slot served
 * (cluster_state:ok), all the nodes known and none failing or in handshake, `primaries ×
 * replicasPerPrimary` replicas; then until each replica has finished its first sync (before that,
 * WAIT does not count it and min-replicas-to-write refuses writes).
 */
export async function waitForWholeCluster(
  ports: number[],
  { primaries, replicasPerPrimary }: { primaries: number; replicasPerPrimary: number },
  wait: WaitOptions = {},
): Promise<void> {
  const options = { timeoutMs: 15_000, intervalMs: 50, ...wait };
  const total = primaries * (1 + replicasPerPrimary);
  for (const port of ports) {
    await waitFor(
      `the cluster node on ${port} to be ok`,
      async () => (await clusterCommand(port, ['CLUSTER', 'INFO'])).split('\n')[0],
      (state) => /cluster_state:ok/.test(state ?? ''),
      options,
    );
    await waitFor(
      `the cluster node on ${port} to know ${total} nodes, ${primaries * replicasPerPrimary} of them replicas`,
      () => clusterTopology(port),
      (view) =>
        view.length === total &&
        view.filter((node) => node.role === 'replica' && node.primaryId).length === primaries * replicasPerPrimary &&
        view.every((node) => !node.flags.some((flag) => flag === 'handshake' || flag.startsWith('fail'))),
      options,
    );
  }
  const first = ports[0];
  if (first === undefined) return;
  for (const node of (await clusterTopology(first)).filter((each) => each.role === 'replica')) {
    await waitFor(
      `the replica on ${node.port} to be in sync`,
      () => clusterCommand(node.port, ['INFO', 'replication']),
      (info) => /master_link_status:up/.test(info) && !/master_sync_in_progress:1/.test(info),
      options,
    );
  }
}
