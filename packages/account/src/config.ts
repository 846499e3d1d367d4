/** The account service's configuration: who it is, where it answers, where Redis is. */
import { accountName } from '@microbank/events';
import {
  type CommonSettings,
  ConfigError,
  commonSettings,
  millisecondsVar,
  parseConfig,
  serviceEnv,
  snapshotKeyVar,
} from '@microbank/service-runtime';
import * as z from 'zod';

export interface AccountConfig extends CommonSettings {
  account: string;
  /** Where this account's service answers, as written in its registration; by default its own local port. */
  accountUrl: string | undefined;
  /** The longest a `?position=` read waits. */
  readWaitMaxMs: number;
  /** The secret snapshots of its ledger are signed with; undefined: no snapshots. */
  snapshotKey: string | undefined;
  /** The longest wait between two registration attempts while Redis is away. */
  registrationRetryCapMs: number;
  /** How often the account looks for its registration on the stream (and registers again when it is gone). */
  registrationCheckMs: number;
  /** How long this instance counts as alive without refreshing its presence. */
  presenceTtlMs: number;
}

const accountEnv = {
  ...serviceEnv,
  ACCOUNT_NAME: z.string().optional(),
  ACCOUNT_URL: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional(),
  // An account process cannot create money: the bank issues it (ISSUANCE, read by the transfer service).
  OPENING_BALANCE: z
    .undefined({
      error:
        'is no longer read: an account opens with no money; money is issued by the bank, in its ISSUANCE (e.g. ISSUANCE="john-account=100", set on the transfer service)',
    })
    .optional(),
  REGISTRATION_RETRY_CAP_MS: millisecondsVar(2_000),
  READ_WAIT_MAX_MS: millisecondsVar(2_000),
  SNAPSHOT_KEY: snapshotKeyVar,
  REGISTRATION_CHECK_MS: millisecondsVar(5_000),
  PRESENCE_TTL_MS: millisecondsVar(6_000),
  HOSTNAME: z.string().optional(),
};

/** Kubernetes names a Deployment's pods `<deployment>-<template hash>-<5 chars>`; ours are `microbank-<account>`. */
const POD_NAME = /^microbank-([a-z0-9-]+?)-[a-z0-9]{1,10}-[a-z0-9]{5}$/;

export function accountFromHostname(hostname: string | undefined): string | undefined {
  const match = hostname ? POD_NAME.exec(hostname) : null;
  return match?.[1];
}

export function readAccountConfig(env: Record<string, string | undefined>): AccountConfig {
  const vars = parseConfig(accountEnv, env);
  const account = vars.ACCOUNT_NAME ?? accountFromHostname(vars.HOSTNAME);
  if (account === undefined) {
    throw new ConfigError(
      `invalid configuration: ACCOUNT_NAME is required (it could not be derived from HOSTNAME ${JSON.stringify(vars.HOSTNAME ?? '')}, which is not a pod name like microbank-<account>-<hash>-<id>)`,
    );
  }
  const name = accountName.safeParse(account);
  if (!name.success) {
    throw new ConfigError(
      `invalid configuration: ACCOUNT_NAME ${name.error.issues[0]?.message} (got ${JSON.stringify(account.slice(0, 80))})`,
    );
  }
  return {
    ...commonSettings(vars),
    account: name.data,
    accountUrl: vars.ACCOUNT_URL,
    readWaitMaxMs: vars.READ_WAIT_MAX_MS,
    snapshotKey: vars.SNAPSHOT_KEY,
    registrationRetryCapMs: vars.REGISTRATION_RETRY_CAP_MS,
    registrationCheckMs: vars.REGISTRATION_CHECK_MS,
    presenceTtlMs: vars.PRESENCE_TTL_MS,
  };
}
