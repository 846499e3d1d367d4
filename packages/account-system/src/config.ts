/** account-system's configuration. */
import { commonSettings, millisecondsVar, parseConfig, serviceEnv, snapshotKeyVar } from '@microbank/service-runtime';

export function readAccountSystemConfig(env: Record<string, string | undefined>) {
  const vars = parseConfig(
    { ...serviceEnv, READ_WAIT_MAX_MS: millisecondsVar(2_000), SNAPSHOT_KEY: snapshotKeyVar },
    env,
  );
  return {
    ...commonSettings(vars),
    readWaitMaxMs: vars.READ_WAIT_MAX_MS,
    snapshotKey: vars.SNAPSHOT_KEY,
  };
}
