/** An account's own metrics: its registration and the instances alive under its name. */

import { followTotal, type ServiceMetrics } from '@microbank/service-runtime';
import type { KeptPresence } from '@microbank/streams';
import { Gauge } from 'prom-client';
import type { KeptRegistration } from './registration.ts';

export function registerAccountMetrics(
  { registry }: ServiceMetrics,
  registration: () => KeptRegistration | undefined,
  presence: () => KeptPresence | undefined,
): void {
  const registers = [registry];
  const totalOf = (name: string, help: string, read: () => number) => followTotal(registry, { name, help, read });
  totalOf(
    'microbank_account_registrations_total',
    'Registrations appended by this instance (again after a loss)',
    () => registration()?.registrations ?? 0,
  );
  totalOf(
    'microbank_account_registration_failures_total',
    'Times the registration could not be stored for a reason no retry fixes',
    () => registration()?.failures ?? 0,
  );
  totalOf(
    'microbank_account_duplicate_claims_total',
    'Other live instances seen claiming this account',
    () => presence()?.othersSeen ?? 0,
  );
  new Gauge({
    name: 'microbank_account_live_instances',
    help: 'Live instances of this account at the last presence refresh, this one included',
    registers,
    collect() {
      this.set(presence()?.liveInstances ?? 0);
    },
  });
}
