/** The transfer service's own metrics: what its processor did, and whether new transfers are admitted. */
import { type MetricRows, registerMetrics, type ServiceMetrics } from '@microbank/service-runtime';
import type { Admission } from './admission.ts';
import type { Processor } from './processor.ts';

const PROCESSOR_TOTALS: MetricRows<Processor['counts']> = {
  microbank_transfers_settled_total: ['Transfers this processor settled (completed or rejected)', (p) => p.settled],
  microbank_transfers_claimed_total: ['Pending entries this processor claimed from another', (p) => p.claimed],
  microbank_transfers_skipped_total: ['Transfers-stream entries acknowledged without a saga', (p) => p.skipped],
  microbank_transfers_failed_total: ['Failed saga runs, one per delivery (retried later, or parked)', (p) => p.failed],
  microbank_transfers_parked_total: ['Entries parked after every delivery failed (see pnpm parked)', (p) => p.parked],
};

const ADMISSION_GAUGES: MetricRows<Pick<Admission, 'refusal'>> = {
  microbank_admission_full: [
    '1 while new transfers are refused because Redis is at the high-water mark of its maxmemory',
    (a) => Number(a.refusal === 'full'),
  ],
  microbank_admission_unread: [
    '1 while new transfers are refused because Redis memory has not been read lately',
    (a) => Number(a.refusal === 'unread'),
  ],
};

export function registerTransferMetrics({ registry }: ServiceMetrics, processor: Processor): void {
  registerMetrics(registry, () => processor.counts, { totals: PROCESSOR_TOTALS });
}

/** Whether new transfers are refused, and why: a refusal that lasts (INFO denied, say) is seen here, not only in one log line. */
export function registerAdmissionMetrics({ registry }: ServiceMetrics, admission: Pick<Admission, 'refusal'>): void {
  registerMetrics(registry, () => admission, { gauges: ADMISSION_GAUGES });
}
