/**
 * The local stack's secrets, made on its first start and kept in its data dir (mode 0600) so that
 * they outlive restarts: the key snapshots are signed with. They go to the services in their
 * environment, never into the plan or the output.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function stackSecrets(dataDir: string): Record<string, string> {
  const file = join(dataDir, 'snapshot.key');
  let key: string;
  try {
    key = readFileSync(file, 'utf8').trim();
  } catch {
    mkdirSync(dataDir, { recursive: true });
    key = randomBytes(32).toString('hex');
    writeFileSync(file, `${key}\n`, { mode: 0o600 });
  }
  return { SNAPSHOT_KEY: key };
}
