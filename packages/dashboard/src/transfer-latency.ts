/**
 * How long transfers take from acceptance to settlement, read off the transfers stream alone: an
 * entry ID starts with the millisecond Redis wrote it at, so a transfer's latency is its
 * settlement entry's milliseconds minus its TransferRequested entry's. Kept over a sliding window
 * of settlements, with bounded memory whatever the stream holds: requests never settled (a flood,
 * or forged entries) are forgotten past a count and an age.
 */

import type { TransferLatency } from './sections.ts';

export interface LatencyLimits {
  /** Settlements older than this (by their entry's milliseconds) leave the figures. */
  windowMs: number;
  /** The most settlements kept: the newest. */
  maxSettled: number;
  /** The most requests kept waiting for their settlement: the newest. */
  maxPending: number;
  /** A request not settled after this long is forgotten (the audit calls one stuck after 30 s). */
  pendingForMs: number;
}

export const LATENCY_LIMITS: LatencyLimits = {
  windowMs: 60_000,
  maxSettled: 10_000,
  maxPending: 50_000,
  pendingForMs: 10 * 60_000,
};

export interface LatencyWindow {
  /** A TransferRequested entry of `transfer` at stream ID `id`. */
  requested(transfer: string, id: string): void;
  /** Its TransferCompleted or TransferRejected entry. */
  settled(transfer: string, id: string): void;
  /** Forgets what fell out of the window or waited too long; true when the figures changed. */
  prune(now: number): boolean;
  figures(now: number): TransferLatency;
  /** How much is held, for the bound's test. */
  held(): { pending: number; settled: number };
}

/** The milliseconds part of a stream entry ID (`<ms>-<seq>`). */
export const entryMs = (id: string): number => Number.parseInt(id, 10);

/** The nearest-rank percentile of ascending `sorted` (not empty): the smallest value with p% at or below it. */
export function nearestRank(sorted: readonly number[], percent: number): number {
  const rank = Math.max(1, Math.ceil((percent / 100) * sorted.length));
  return sorted[rank - 1] as number;
}

export function latencyWindow(limits: Partial<LatencyLimits> = {}): LatencyWindow {
  const { windowMs, maxSettled, maxPending, pendingForMs } = { ...LATENCY_LIMITS, ...limits };
  /** Request ms by transfer, oldest seen first (a Map keeps insertion order). */
  const pending = new Map<string, number>();
  /** Settlements in the order seen, and their transfers, so that one read twice counts once. */
  const settlements: Array<{ transfer: string; at: number; ms: number }> = [];
  const counted = new Set<string>();

  const dropOldestSettlement = () => {
    const dropped = settlements.shift();
    if (dropped) counted.delete(dropped.transfer);
  };

  const prune = (now: number): boolean => {
    let changed = false;
    // Settlements arrive in stream order, near enough: the oldest are at the front.
    while (settlements.length > 0 && (settlements[0]?.at as number) < now - windowMs) {
      dropOldestSettlement();
      changed = true;
    }
    for (const [transfer, at] of pending) {
      if (at >= now - pendingForMs) break;
      pending.delete(transfer);
    }
    return changed;
  };

  return {
    requested(transfer, id) {
      // The feed's seed and its tail may both read an entry near the dashboard's start; a
      // transfer is accepted once, at its first request.
      if (counted.has(transfer) || pending.has(transfer)) return;
      pending.set(transfer, entryMs(id));
      if (pending.size > maxPending) pending.delete(pending.keys().next().value as string);
    },
    settled(transfer, id) {
      const requestedAt = pending.get(transfer);
      if (requestedAt === undefined) return;
      pending.delete(transfer);
      const at = entryMs(id);
      // Only forged entries could put a settlement before its request on one stream.
      if (at < requestedAt) return;
      settlements.push({ transfer, at, ms: at - requestedAt });
      counted.add(transfer);
      if (settlements.length > maxSettled) dropOldestSettlement();
    },
    prune,
    figures(now) {
      prune(now);
      const sorted = settlements
        .filter(({ at }) => at >= now - windowMs)
        .map(({ ms }) => ms)
        .sort((a, b) => a - b);
      if (sorted.length === 0) return { windowMs, transfers: 0 };
      return {
        windowMs,
        transfers: sorted.length,
        p50: nearestRank(sorted, 50),
        p90: nearestRank(sorted, 90),
        p99: nearestRank(sorted, 99),
        max: sorted[sorted.length - 1] as number,
      };
    },
    held: () => ({ pending: pending.size, settled: settlements.length }),
  };
}
