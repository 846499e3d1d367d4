/** The account service's configuration: who it is, where it answers, where Redis is. */
import { accountName } from '@microbank/events';
import { ConfigError, millisecondsVar, readSettings, snapshotKeyVar } from '@microbank/service-runtime';
import * as z from 'zod';

const httpUrlVar = z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).optional();

/** OPENING_BALANCE: refused whatever its value. */
const openingBalanceRefused = z
  .undefined({
    error:
      'is no longer read: an account opens with no money; money is issued by the bank, in its ISSUANCE (e.g. ISSUANCE="john-account=100", set on the transfer service)',
  })
  .optional();

/** Kubernetes names a Deployment's pods `<deployment>-<template hash>-<5 chars>`; ours are `microbank-<account>`. */
const POD_NAME = /^microbank-([a-z0-9-]+?)-[a-z0-9]{1,10}-[a-z0-9]{5}$/;

export function accountFromHostname(hostname: string | undefined): string | undefined {
  const match = hostname ? POD_NAME.exec(hostname) : null;
  return match?.[1];
}

export type AccountConfig = ReturnType<typeof readAccountConfig>;

/** The account's name is ACCOUNT_NAME, or the one its pod's HOSTNAME carries. */
export function readAccountConfig(env: Record<string, string | undefined>) {
  const {
    accountName: named,
    hostname,
    openingBalance: _refused,
    ...settings
  } = readSettings(env, {
    accountName: ['ACCOUNT_NAME', z.string().optional()],
    accountUrl: ['ACCOUNT_URL', httpUrlVar],
    // An account process cannot create money: the bank issues it (ISSUANCE, read by the transfer service).
    openingBalance: ['OPENING_BALANCE', openingBalanceRefused],
    /** The longest wait between two registration attempts while Redis is away. */
    registrationRetryCapMs: ['REGISTRATION_RETRY_CAP_MS', millisecondsVar(2_000)],
    /** The longest a `?position=` read waits. */
    readWaitMaxMs: ['READ_WAIT_MAX_MS', millisecondsVar(2_000)],
    /** The secret snapshots of its ledger are signed with; undefined: no snapshots. */
    snapshotKey: ['SNAPSHOT_KEY', snapshotKeyVar],
    /** How often the account looks for its registration on the stream (and registers again when it is gone). */
    registrationCheckMs: ['REGISTRATION_CHECK_MS', millisecondsVar(5_000)],
    /** How long this instance counts as alive without refreshing its presence. */
    presenceTtlMs: ['PRESENCE_TTL_MS', millisecondsVar(6_000)],
    hostname: ['HOSTNAME', z.string().optional()],
  });
  const account = named ?? accountFromHostname(hostname);
  if (account === undefined) {
    throw new ConfigError(
      `invalid configuration: ACCOUNT_NAME is required (it could not be derived from HOSTNAME ${JSON.stringify(hostname ?? '')}, which is not a pod name like microbank-<account>-<hash>-<id>)`,
    );
  }
  const name = accountName.safeParse(account);
  if (!name.success) {
    throw new ConfigError(
      `invalid configuration: ACCOUNT_NAME ${name.error.issues[0]?.message} (got ${JSON.stringify(account.slice(0, 80))})`,
    );
  }
  return { ...settings, account: name.data };
}
