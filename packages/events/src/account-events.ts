/** The contracts of events on the accounts stream: one zod schema per event type and version. */
import { z } from 'zod';

/** An account's name is a DNS label, because it also names its Kubernetes Service. */
export const ACCOUNT_NAME_PATTERN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export const accountName = z
  .string()
  .regex(ACCOUNT_NAME_PATTERN, 'must be a DNS label: 1-63 of a-z, 0-9 and "-", not starting or ending with "-"');

const serviceUrl = z.url({ protocol: /^https?$/ }).max(2048);

/** AccountRegistered v1: an account's service has started and says where it answers. */
export const accountRegisteredV1 = z.object({
  account: accountName,
  url: serviceUrl,
  instance: z.string().min(1).max(253),
  registeredAt: z.iso.datetime({ offset: true }),
});

export type AccountRegistered = {
  type: 'AccountRegistered';
  data: z.infer<typeof accountRegisteredV1>;
};

/** Every event that may appear on `microbank:accounts`. */
export type AccountEvent = AccountRegistered;

export type AccountEventType = AccountEvent['type'];

/**
 * The schema of every (type, version) this code understands, and the version it writes.
 * An older version, once one exists, gets an upcaster next to its schema.
 */
export const accountEventSchemas = {
  AccountRegistered: { current: 1, versions: { 1: accountRegisteredV1 } },
} as const satisfies Record<AccountEventType, { current: number; versions: Record<number, z.ZodType> }>;
