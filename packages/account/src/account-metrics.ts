/** An account's own metrics: its registration and the instances alive under its name. */

import { type MetricRows, registerMetrics, type ServiceMetrics } from '@microbank/service-runtime';
import type { KeptPresence } from '@microbank/streams';
import type { KeptRegistration } from './registration.ts';

/** What the metrics read of the registration and the presence. */
type AccountCounts = Record<'registrations' | 'failures' | 'othersSeen' | 'liveInstances', number>;

/** The counts of a registration or a presence not started yet. */
const NOT_STARTED: AccountCounts = { registrations: 0, failures: 0, othersSeen: 0, liveInstances: 0 };

const ACCOUNT_TOTALS: MetricRows<AccountCounts> = {
  microbank_account_registrations_total: ['Registrations this instance stored (again if lost)', (c) => c.registrations],
  microbank_account_registration_failures_total: ['Registrations failed on an error no retry fixes', (c) => c.failures],
  microbank_account_duplicate_claims_total: ['Other live instances seen claiming this account', (c) => c.othersSeen],
};

const ACCOUNT_GAUGES: MetricRows<AccountCounts> = {
  microbank_account_live_instances: ['Live instances of this account, this one included', (c) => c.liveInstances],
};

export function registerAccountMetrics(
  { registry }: ServiceMetrics,
  registration: () => KeptRegistration | undefined,
  presence: () => KeptPresence | undefined,
): void {
  const counts = (): AccountCounts => {
    const { registrations, failures } = registration()?.state ?? NOT_STARTED;
    const { othersSeen, liveInstances } = presence()?.counts ?? NOT_STARTED;
    return { registrations, failures, othersSeen, liveInstances };
  };
  registerMetrics(registry, counts, { gauges: ACCOUNT_GAUGES, totals: ACCOUNT_TOTALS });
}
