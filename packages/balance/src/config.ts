/** balance's configuration. */
import { STUCK_AFTER_MS } from '@microbank/ledger';
import { millisecondsVar, readSettings, wholeNumberVar } from '@microbank/service-runtime';
import * as z from 'zod';
import { parseUrlPatterns } from './account-url-policy.ts';

const count = (fallback: number) => wholeNumberVar(fallback, 6);

const urlPatterns = z
  .string()
  .default('http://127.0.0.1:*')
  .transform((text, ctx) => {
    try {
      return parseUrlPatterns(text);
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message });
      return z.NEVER;
    }
  });

export function readBalanceConfig(env: Record<string, string | undefined>) {
  return readSettings(env, {
    accountTimeoutMs: ['ACCOUNT_TIMEOUT_MS', millisecondsVar(1_000)],
    accountUrlPatterns: ['ACCOUNT_URL_PATTERN', urlPatterns],
    accountConcurrency: ['ACCOUNT_CONCURRENCY', count(16)],
    accountQueue: ['ACCOUNT_QUEUE', count(64)],
    maxPending: ['BALANCE_MAX_PENDING', count(1_024)],
    /** How long a transfer may stay unsettled before the audit reports it stuck. */
    auditStuckAfterMs: ['AUDIT_STUCK_AFTER_MS', millisecondsVar(STUCK_AFTER_MS)],
  });
}
