/** The transfer service's own metrics: what its processor did. */
import { followTotal, type ServiceMetrics } from '@microbank/service-runtime';
import type { Processor } from './processor.ts';

export function registerTransferMetrics({ registry }: ServiceMetrics, processor: Processor): void {
  const total = (name: string, help: string, read: () => number) => followTotal(registry, { name, help, read });
  total(
    'microbank_transfers_settled_total',
    'Transfers this processor settled (completed or rejected)',
    () => processor.settled,
  );
  total(
    'microbank_transfers_claimed_total',
    'Entries this processor claimed from the group`s pending entries held by another',
    () => processor.claimed,
  );
  total(
    'microbank_transfers_skipped_total',
    'Transfers-stream entries acknowledged without a saga',
    () => processor.skipped,
  );
  total(
    'microbank_transfers_failed_total',
    'Saga runs that failed, one per delivery of an entry: it is run again after a backoff, or parked',
    () => processor.failed,
  );
  total(
    'microbank_transfers_parked_total',
    'Entries this processor parked after their saga failed at every delivery (pnpm parked lists them)',
    () => processor.parked,
  );
}
