/** The transfer service's configuration. */
import { commonSettings, millisecondsVar, parseConfig, serviceEnv, snapshotKeyVar } from '@microbank/service-runtime';
import { transferClientsVar } from './credentials.ts';

export function readTransferConfig(env: Record<string, string | undefined>) {
  const vars = parseConfig(
    {
      ...serviceEnv,
      SNAPSHOT_KEY: snapshotKeyVar,
      CLAIM_IDLE_MS: millisecondsVar(2_000),
      TRANSFER_CLIENTS: transferClientsVar,
    },
    env,
  );
  return {
    ...commonSettings(vars),
    snapshotKey: vars.SNAPSHOT_KEY,
    claimIdleMs: vars.CLAIM_IDLE_MS,
    clients: vars.TRANSFER_CLIENTS,
  };
}
