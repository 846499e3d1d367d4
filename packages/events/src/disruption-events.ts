/**
 * The contract of `microbank:disruptions`: what a chaos tool did to the bank, for whoever shows
 * the bank live (the dashboard marks each on its timeline). History of the tooling, not of the
 * money: kept short (the writer trims it) and never replayed by a service that serves reads.
 */

import { catalogAtV1 } from '@microbank/streams';
import * as z from 'zod';

/** ComponentKilled v1: `by` killed `component` (SIGKILL of its process, deletion of its pod). */
export const componentKilledV1 = z.object({
  component: z.string().min(1).max(253),
  by: z.string().min(1).max(64),
  handle: z.string().max(253).optional(),
  at: z.iso.datetime({ offset: true }),
});

export type DisruptionEvent = { type: 'ComponentKilled'; data: z.infer<typeof componentKilledV1> };

export const disruptionEvents = catalogAtV1<DisruptionEvent>(
  { kind: 'disruptions', maxEntryBytes: 2 * 1024 },
  { ComponentKilled: componentKilledV1 },
);
