/**
 * `CLUSTER NODES` as one node of a Redis Cluster answers it, parsed: each line is `<id>
 * <ip:port@cport[,hostname]> <flags> <primary id or -> <ping-sent> <pong-recv> <config-epoch>
 * <link-state> <slot>...`. The one reading of that text in the product (the dashboard shows it, a
 * confirmed read asks whether a primary has a replica to promote).
 */

/** A node as one node of the cluster sees it. */
export interface ClusterNode {
  id: string;
  /** `host:port` (the cluster bus port and hostname left out). */
  address: string;
  /** `myself`, `master`, `slave`, `fail?`, `fail`, `nofailover`, ... */
  flags: string[];
  /** A replica: the id of the primary it follows; undefined for a primary. */
  primaryId: string | undefined;
  /** The slot ranges a primary serves (inclusive); a slot on its way in or out (`[slot->-id]`) is not counted. */
  slots: Array<[number, number]>;
}

/** The nodes `text` lists, leaving out those still in handshake (their id is a temporary one). */
export function parseClusterNodes(text: string): ClusterNode[] {
  return text
    .split('\n')
    .map((line) => line.trim().split(' '))
    .filter((fields) => fields.length >= 8 && !(fields[2] ?? '').split(',').includes('handshake'))
    .map(([id = '', address = '', flags = '', primary = '-', , , , , ...slots]) => ({
      id,
      address: address.split('@')[0] ?? address,
      flags: flags.split(','),
      primaryId: primary === '-' ? undefined : primary,
      slots: slots
        .filter((field) => !field.startsWith('['))
        .map((field): [number, number] => {
          const [from, to = from] = field.split('-');
          return [Number(from), Number(to)];
        }),
    }));
}
