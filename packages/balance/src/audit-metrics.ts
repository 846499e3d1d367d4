/** The audit as Prometheus metrics: conserved or not, and the totals it compares. */
import type { Audit } from '@microbank/ledger';
import type { ServiceMetrics } from '@microbank/service-runtime';
import { Gauge } from 'prom-client';

export function registerAuditMetrics({ registry }: ServiceMetrics, audit: Audit): void {
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  gauge('microbank_audit_conserved', '1 while balances + money in flight = opening balances, with no violation', () =>
    audit.figures().conserved ? 1 : 0,
  );
  gauge('microbank_audit_openings', 'The opening balances of every ledger, summed', () => audit.figures().openings);
  gauge('microbank_audit_balances', 'Every balance within the audit`s cut, summed', () => audit.figures().balances);
  gauge('microbank_audit_in_flight', 'Money debited and not yet credited or refunded', () => audit.figures().inFlight);
  gauge(
    'microbank_audit_violations',
    'Violations the audit found (a credit without a debit, ...)',
    () => audit.figures().violations,
  );
}
