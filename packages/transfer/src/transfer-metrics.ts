/** The transfer service's own metrics: what its processor did. */
import { type MetricRows, registerMetrics, type ServiceMetrics } from '@microbank/service-runtime';
import type { Processor } from './processor.ts';

const PROCESSOR_TOTALS: MetricRows<Processor['counts']> = {
  microbank_transfers_settled_total: ['Transfers this processor settled (completed or rejected)', (p) => p.settled],
  microbank_transfers_claimed_total: ['Pending entries this processor claimed from another', (p) => p.claimed],
  microbank_transfers_skipped_total: ['Transfers-stream entries acknowledged without a saga', (p) => p.skipped],
  microbank_transfers_failed_total: ['Failed saga runs, one per delivery (retried later, or parked)', (p) => p.failed],
  microbank_transfers_parked_total: ['Entries parked after every delivery failed (see pnpm parked)', (p) => p.parked],
};

export function registerTransferMetrics({ registry }: ServiceMetrics, processor: Processor): void {
  registerMetrics(registry, () => processor.counts, { totals: PROCESSOR_TOTALS });
}
