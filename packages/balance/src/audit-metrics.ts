/** The audit as Prometheus metrics: conserved or not, the figures it compares, its violations and stuck transfers. */
import type { Audit, AuditFigures } from '@microbank/ledger';
import type { ServiceMetrics } from '@microbank/service-runtime';
import { Gauge } from 'prom-client';

/** One scrape reads every gauge: the figures are computed once for all of them. */
const FIGURES_FRESH_MS = 100;

export function registerAuditMetrics({ registry }: ServiceMetrics, audit: Pick<Audit, 'figures'>): void {
  let figures: AuditFigures | undefined;
  let takenAt = 0;
  const current = () => {
    const now = performance.now();
    if (!figures || now - takenAt > FIGURES_FRESH_MS) {
      figures = audit.figures();
      takenAt = now;
    }
    return figures;
  };
  const gauge = (name: string, help: string, read: (figures: AuditFigures) => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read(current()));
      },
    });
  gauge(
    'microbank_audit_conserved',
    '1 while balances + money in flight + money issuing = the supply, with no violation',
    (f) => (f.conserved ? 1 : 0),
  );
  gauge(
    'microbank_audit_supply',
    'What the balances must add up to: issued plus old opening amounts',
    (f) => f.supply.total,
  );
  gauge(
    'microbank_audit_issued',
    'Money the bank issued (SupplyIssued on the supply stream), summed',
    (f) => f.supply.issued,
  );
  gauge(
    'microbank_audit_openings',
    'Money in old AccountOpened v1 amounts, not issued by the bank (each one a violation)',
    (f) => f.supply.openings,
  );
  gauge('microbank_audit_balances', 'Every balance within the audit`s cut, summed', (f) => f.balances);
  gauge('microbank_audit_in_flight', 'Money debited and not yet credited or refunded', (f) => f.inFlight.amount);
  gauge('microbank_audit_in_flight_transfers', 'Transfers whose money is in flight', (f) => f.inFlight.transfers);
  gauge('microbank_audit_issuing', 'Money issued on the supply stream, not yet in its ledger', (f) => f.issuing.amount);
  gauge(
    'microbank_audit_violations',
    'Violations the audit found (a gap in a ledger, an outcome its ledgers do not match, ...)',
    (f) => f.violations.count,
  );
  gauge(
    'microbank_audit_stuck_transfers',
    'Transfers not settled within the audit`s stuck limit (AUDIT_STUCK_AFTER_MS)',
    (f) => f.stuck.transfers,
  );
  gauge(
    'microbank_audit_stuck_issuances',
    'Issuances on the supply stream not in their ledger within the stuck limit',
    (f) => f.stuck.issuances,
  );
}
