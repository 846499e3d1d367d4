/** balance's configuration. */
import { millisecondsVar, parseConfig, serviceEnv, snapshotKeyVar } from '@microbank/service-runtime';

export function readBalanceConfig(env: Record<string, string | undefined>) {
  const vars = parseConfig(
    { ...serviceEnv, ACCOUNT_TIMEOUT_MS: millisecondsVar(1_000), SNAPSHOT_KEY: snapshotKeyVar },
    env,
  );
  return {
    redisUrl: vars.REDIS_URL,
    port: vars.PORT,
    logLevel: vars.LOG_LEVEL,
    accountTimeoutMs: vars.ACCOUNT_TIMEOUT_MS,
    snapshotKey: vars.SNAPSHOT_KEY,
  };
}
