/** account-system's configuration. */
import { millisecondsVar, readSettings, snapshotKeyVar } from '@microbank/service-runtime';

export function readAccountSystemConfig(env: Record<string, string | undefined>) {
  return readSettings(env, {
    readWaitMaxMs: ['READ_WAIT_MAX_MS', millisecondsVar(2_000)],
    snapshotKey: ['SNAPSHOT_KEY', snapshotKeyVar],
  });
}
