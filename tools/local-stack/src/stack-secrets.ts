/**
 * The local stack's secrets, made on its first start and kept in its data dir (mode 0600) so that
 * they outlive restarts: the key snapshots are signed with, and the credentials of the transfer
 * API's clients (an operator who may debit any account, and john, who may debit john-account).
 * They reach the services in their environment (the transfer service gets only the credentials'
 * digests), never the plan or the output; tools read a credential from its file.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { credentialDigest, newCredential } from '@microbank/transfer';

/** The stack's clients of the transfer API and the accounts each may debit. */
const CLIENTS = { operator: '*', john: ['john-account'] } as const;
export type StackClient = keyof typeof CLIENTS;

/** The file that holds a client's credential: `cat` it into MICROBANK_CREDENTIAL. */
export const credentialFile = (dataDir: string, client: StackClient) => join(dataDir, 'credentials', client);

/** Reads `file`, or writes `make()` into it first (mode 0600). */
function kept(file: string, make: () => string): string {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    mkdirSync(join(file, '..'), { recursive: true });
    const value = make();
    writeFileSync(file, `${value}\n`, { mode: 0o600 });
    return value;
  }
}

/** A client's credential, made on first use: what a tool (chaos, bench, a test) sends as Bearer. */
export function stackCredential(dataDir: string, client: StackClient = 'operator'): string {
  return kept(credentialFile(dataDir, client), () => newCredential(client).credential);
}

export function stackSecrets(dataDir: string): Record<string, string> {
  const snapshotKey = kept(join(dataDir, 'snapshot.key'), () => randomBytes(32).toString('hex'));
  const clients = Object.entries(CLIENTS).map(([client, debits]) => ({
    client,
    sha256: credentialDigest(stackCredential(dataDir, client as StackClient)),
    debits,
  }));
  return { SNAPSHOT_KEY: snapshotKey, TRANSFER_CLIENTS: JSON.stringify(clients) };
}
