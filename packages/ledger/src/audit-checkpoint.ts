/**
 * The audit's checkpoint: a digest of every entry the books applied, with the positions it covers,
 * so that two audits, two services or a rebuild can show they saw the same books. Each stream has
 * a running SHA-256 over its applied entries in order (ID, then every field with its length: an
 * entry's type, version and data as stored, byte for byte); the checkpoint's digest is a SHA-256
 * over the streams sorted by name, each with its position and its own digest. A stream is named
 * without the key prefix (`ledger:{john-account}`, `{transfers}`, `{supply}`), so a copy of the
 * books under another prefix has the same checkpoint when it holds the same entries.
 *
 * Per entry this is one copy into a frame buffer and one `update` of the stream's hash object; a
 * checkpoint finishes the digests of the streams that changed since the last one only.
 */
import { createHash, type Hash } from 'node:crypto';
import type { StreamId } from '@microbank/streams';

export interface Checkpoint {
  /** SHA-256, hex, over every stream's name, position and digest, sorted by name. */
  digest: string;
  /** How far each stream was applied: the last entry's ID. */
  positions: Record<string, StreamId>;
}

export interface BooksDigest {
  /** Adds one applied entry of the stream `name` (its ID and its fields as read). */
  note(name: string, id: StreamId, fields: readonly Buffer[]): void;
  /** The checkpoint of everything noted so far. */
  checkpoint(): Checkpoint;
}

interface Chain {
  hash: Hash;
  position: StreamId;
  /** The stream's digest as last computed; undefined when entries came since. */
  digest: string | undefined;
}

/**
 * `shownFrom`: where a stream's name starts within the key `note` is given (after the key prefix),
 * so that a copy of the books under another prefix has the same checkpoint. The name is cut once,
 * for the checkpoint, not for every entry noted.
 */
export function booksDigest(shownFrom = 0): BooksDigest {
  const chains = new Map<string, Chain>();
  /** The streams' names in order, sorted again only when a stream is added. */
  let names: string[] = [];
  let sorted = true;
  /** An entry framed for the hash: its ID, a newline, how many fields, then each field's length and bytes. */
  const frame = Buffer.alloc(FRAME_BYTES);
  let last: Checkpoint | undefined;
  return {
    note(name, id, fields) {
      let chain = chains.get(name);
      if (!chain) {
        chain = { hash: createHash('sha256'), position: id, digest: undefined };
        chains.set(name, chain);
        names.push(name);
        sorted = false;
      }
      chain.hash.update(framed(frame, id, fields));
      chain.position = id;
      chain.digest = undefined;
      last = undefined;
    },
    checkpoint() {
      if (last) return last;
      if (!sorted) {
        names = names.sort();
        sorted = true;
      }
      const combined = createHash('sha256');
      const positions: Record<string, StreamId> = {};
      for (const name of names) {
        const chain = chains.get(name) as Chain;
        chain.digest ??= chain.hash.copy().digest('hex');
        const shown = name.slice(shownFrom);
        positions[shown] = chain.position;
        combined.update(`${shown} ${chain.position} ${chain.digest}\n`);
      }
      last = { digest: combined.digest('hex'), positions };
      return last;
    },
  };
}

/** Entries up to this size are framed in one buffer and hashed in one call (a ledger entry is at most 2 KiB). */
const FRAME_BYTES = 8 * 1024;

/** The entry framed in `frame`, or, when it does not fit, in a buffer of its own. */
function framed(frame: Buffer, id: StreamId, fields: readonly Buffer[]): Buffer {
  let size = id.length + 5;
  for (const field of fields) size += 4 + field.length;
  const into = size <= frame.length ? frame : Buffer.alloc(size);
  let at = into.write(id, 0, 'latin1');
  into[at++] = 0x0a;
  at = into.writeUInt32BE(fields.length, at);
  for (const field of fields) {
    at = into.writeUInt32BE(field.length, at);
    at += field.copy(into, at);
  }
  return into.subarray(0, at);
}
