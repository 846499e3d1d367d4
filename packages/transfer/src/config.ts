/** The transfer service's configuration. */

import { parseIssuance } from '@microbank/ledger';
import {
  commonSettings,
  millisecondsVar,
  parseConfig,
  serviceEnv,
  snapshotKeyVar,
  wholeNumberVar,
} from '@microbank/service-runtime';
import * as z from 'zod';
import { transferClientsVar } from './credentials.ts';

/**
 * ISSUANCE: the money the bank issues, `<account>=<amount>,...` (e.g. `john-account=100`), each
 * made once under the issuance ID `opening:<account>` whatever the number of starts. Unset: none.
 */
const issuanceVar = z
  .string()
  .optional()
  .transform((value, ctx) => {
    try {
      return parseIssuance(value);
    } catch (error) {
      ctx.addIssue({
        code: 'custom',
        message: (error as Error).message.replace(/^invalid configuration: ISSUANCE /, ''),
      });
      return z.NEVER;
    }
  });

export function readTransferConfig(env: Record<string, string | undefined>) {
  const vars = parseConfig(
    {
      ...serviceEnv,
      SNAPSHOT_KEY: snapshotKeyVar,
      CLAIM_IDLE_MS: millisecondsVar(2_000),
      TRANSFER_CLIENTS: transferClientsVar,
      ISSUANCE: issuanceVar,
      /** The share of Redis's maxmemory at which new transfers are refused (admission.ts). */
      ADMISSION_HIGH_WATER: z
        .string()
        .regex(/^0\.\d{1,3}$/, 'must be a fraction of maxmemory, 0.5-0.99')
        .transform(Number)
        .refine((share) => share >= 0.5 && share <= 0.99, 'must be a fraction of maxmemory, 0.5-0.99')
        .default(0.9),
      /** How long a client's Idempotency-Key and a settled transfer's status are kept, in hours. */
      RETENTION_HOURS: wholeNumberVar(24, 4, 'hours'),
    },
    env,
  );
  return {
    ...commonSettings(vars),
    snapshotKey: vars.SNAPSHOT_KEY,
    claimIdleMs: vars.CLAIM_IDLE_MS,
    clients: vars.TRANSFER_CLIENTS,
    issuance: vars.ISSUANCE,
    admissionHighWater: vars.ADMISSION_HIGH_WATER,
    retentionMs: vars.RETENTION_HOURS * 60 * 60 * 1000,
  };
}
