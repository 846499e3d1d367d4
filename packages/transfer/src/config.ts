/** The transfer service's configuration. */

import { parseIssuance } from '@microbank/ledger';
import { millisecondsVar, readSettings, snapshotKeyVar, wholeNumberVar } from '@microbank/service-runtime';
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

const admissionHighWaterVar = z
  .string()
  .regex(/^0\.\d{1,3}$/, 'must be a fraction of maxmemory, 0.5-0.99')
  .transform(Number)
  .refine((share) => share >= 0.5 && share <= 0.99, 'must be a fraction of maxmemory, 0.5-0.99')
  .default(0.9);

export function readTransferConfig(env: Record<string, string | undefined>) {
  return readSettings(env, {
    snapshotKey: ['SNAPSHOT_KEY', snapshotKeyVar],
    claimIdleMs: ['CLAIM_IDLE_MS', millisecondsVar(2_000)],
    clients: ['TRANSFER_CLIENTS', transferClientsVar],
    issuance: ['ISSUANCE', issuanceVar],
    /** The share of Redis's maxmemory at which new transfers are refused (admission.ts). */
    admissionHighWater: ['ADMISSION_HIGH_WATER', admissionHighWaterVar],
    /** How long a client's Idempotency-Key and a settled transfer's status are kept. */
    retentionMs: ['RETENTION_HOURS', wholeNumberVar(24, 4, 'hours').transform((hours) => hours * 60 * 60 * 1000)],
  });
}
