/** The contracts of events on the accounts stream: one zod schema per event type and version. */

import { catalogAtV1, embeddable } from '@microbank/streams';
import * as z from 'zod';

/** An account's name is a DNS label, because it also names its Kubernetes Service. */
export const ACCOUNT_NAME_PATTERN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
/** An account's name: ACCOUNT_NAME_PATTERN, to embed in a fast path's pattern. */
export const ACCOUNT = embeddable(ACCOUNT_NAME_PATTERN);
/** The longest URL a registration may carry. */
export const SERVICE_URL_MAX_LENGTH = 2048;
/** The longest instance (a host/pid, a pod name: a DNS subdomain at most). */
export const INSTANCE_MAX_LENGTH = 253;

export const accountName = z
  .string()
  .regex(ACCOUNT_NAME_PATTERN, 'must be a DNS label: 1-63 of a-z, 0-9 and "-", not starting or ending with "-"');

/** Where an account's service answers: http or https only. */
export const serviceUrl = z.url({ protocol: /^https?$/ }).max(SERVICE_URL_MAX_LENGTH);

/** AccountRegistered v1: an account's service has started and says where it answers. */
export const accountRegisteredV1 = z.object({
  account: accountName,
  url: serviceUrl,
  instance: z.string().min(1).max(INSTANCE_MAX_LENGTH),
  registeredAt: z.iso.datetime({ offset: true }),
});

export type AccountRegistered = {
  type: 'AccountRegistered';
  data: z.infer<typeof accountRegisteredV1>;
};

/**
 * The registration of `registration` now: its fields in the order the fast path reads them
 * (account, url, instance), then registeredAt.
 */
export function accountRegistered(registration: Omit<AccountRegistered['data'], 'registeredAt'>): AccountRegistered {
  return { type: 'AccountRegistered', data: { ...registration, registeredAt: new Date().toISOString() } };
}

/** Every event that may appear on `microbank:accounts`. */
export type AccountEvent = AccountRegistered;

// A registration is a few hundred bytes; its longest fields together stay under 3 KiB.
export const accountEvents = catalogAtV1<AccountEvent>(
  { kind: 'accounts', maxEntryBytes: 8 * 1024 },
  { AccountRegistered: accountRegisteredV1 },
);
