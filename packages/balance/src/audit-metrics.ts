/** The audit as Prometheus metrics: conserved or not, the figures it compares, its violations and stuck transfers. */
import type { Audit, AuditFigures } from '@microbank/ledger';
import { type MetricRows, registerMetrics, type ServiceMetrics } from '@microbank/service-runtime';

/** One scrape reads every gauge: the figures are computed once for all of them. */
const FIGURES_FRESH_MS = 100;

const AUDIT_GAUGES: MetricRows<AuditFigures> = {
  microbank_audit_conserved: ['1 if balances + in flight + issuing = supply, no violation', (f) => Number(f.conserved)],
  microbank_audit_supply: ['What the balances must add up to: issued plus old opening amounts', (f) => f.supply.total],
  microbank_audit_issued: ['Money the bank issued (SupplyIssued on the supply stream), summed', (f) => f.supply.issued],
  microbank_audit_openings: ['Money in old AccountOpened v1 amounts (each one a violation)', (f) => f.supply.openings],
  microbank_audit_balances: ['Every balance within the audit`s cut, summed', (f) => f.balances],
  microbank_audit_in_flight: ['Money debited and not yet credited or refunded', (f) => f.inFlight.amount],
  microbank_audit_in_flight_transfers: ['Transfers whose money is in flight', (f) => f.inFlight.transfers],
  microbank_audit_issuing: ['Money issued on the supply stream, not yet in its ledger', (f) => f.issuing.amount],
  microbank_audit_violations: ['Violations the audit found (a gap in a ledger, ...)', (f) => f.violations.count],
  microbank_audit_stuck_transfers: ['Transfers not settled within AUDIT_STUCK_AFTER_MS', (f) => f.stuck.transfers],
  microbank_audit_stuck_issuances: ['Issuances not in their ledger within the stuck limit', (f) => f.stuck.issuances],
};

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
  registerMetrics(registry, current, { gauges: AUDIT_GAUGES });
}
