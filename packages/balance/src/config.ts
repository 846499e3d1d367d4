/** balance's configuration. */
import { STUCK_AFTER_MS } from '@microbank/ledger';
import { commonSettings, millisecondsVar, parseConfig, serviceEnv, wholeNumberVar } from '@microbank/service-runtime';
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
  const vars = parseConfig(
    {
      ...serviceEnv,
      ACCOUNT_TIMEOUT_MS: millisecondsVar(1_000),
      ACCOUNT_URL_PATTERN: urlPatterns,
      ACCOUNT_CONCURRENCY: count(16),
      ACCOUNT_QUEUE: count(64),
      BALANCE_MAX_PENDING: count(1_024),
      /** How long a transfer may stay unsettled before the audit reports it stuck. */
      AUDIT_STUCK_AFTER_MS: millisecondsVar(STUCK_AFTER_MS),
    },
    env,
  );
  return {
    ...commonSettings(vars),
    accountTimeoutMs: vars.ACCOUNT_TIMEOUT_MS,
    accountUrlPatterns: vars.ACCOUNT_URL_PATTERN,
    accountConcurrency: vars.ACCOUNT_CONCURRENCY,
    accountQueue: vars.ACCOUNT_QUEUE,
    maxPending: vars.BALANCE_MAX_PENDING,
    auditStuckAfterMs: vars.AUDIT_STUCK_AFTER_MS,
  };
}
