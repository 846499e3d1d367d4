/**
 * What the page is sent: the bank's sections as the server renders them (bank-view.ts) and the
 * page draws them (page/live-page.ts), over server-sent events (live-updates.ts) and `GET /state`.
 * Types only, imported with `import type` on both sides: the page's bundle gains no server code.
 */

import type { AuditFigures } from '@microbank/ledger';
import type { StreamId } from '@microbank/streams';

/** An account as the page lists it: no balance until its ledger is opened. */
export interface AccountRow {
  name: string;
  balance?: number;
  /** The lowest balance it has had (absent with no ledger yet). */
  lowest?: number;
}

export interface AccountsSection {
  accounts: AccountRow[];
  /** The books have caught up with the streams. */
  ready: boolean;
}

/** The audit's figures; of its checkpoint, the digest and how many streams it covers (the positions stay on balance's GET /audit). */
export type AuditSection = Omit<AuditFigures, 'checkpoint'> & { checkpoint?: { digest: string; streams: number } };

/** A transfer of the last few, as its events said so far. */
export interface RecentTransfer {
  transfer: string;
  from: string;
  to: string;
  amount: number;
  status: 'pending' | 'completed' | 'rejected';
  reason?: string;
  /** The request's stream ID. */
  id: string;
}

/** A parked transfer as the page lists it (parked-watch.ts reads them). */
export interface ParkedShown {
  /** Its position on the parked stream: what `pnpm parked --retry` takes. */
  parked: StreamId;
  transfer: string;
  from: string;
  to: string;
  amount: number;
  reason: string;
  reapplied: boolean;
}

export interface ParkedView {
  /** Parked and not re-applied. */
  waiting: number;
  /** The newest parked transfers, re-applied or not. */
  recent: ParkedShown[];
}

export interface TransfersSection {
  recent: RecentTransfer[];
  /** Settled (completed or rejected) per second over the last few seconds. */
  ratePerSecond: number;
  inFlight: AuditFigures['inFlight'];
  parked: ParkedView;
  /** The dashboard has a TRANSFER_URL: the form can make transfers. */
  formEnabled: boolean;
  /** How long the transfers settled in the last minute took (transfer-latency.ts). */
  latency: TransferLatency;
}

/** What the page shows: nearest-rank percentiles in ms, absent when nothing settled in the window. */
export interface TransferLatency {
  windowMs: number;
  /** Transfers settled in the window whose request was seen: what the percentiles are over. */
  transfers: number;
  p50?: number;
  p90?: number;
  p99?: number;
  max?: number;
}

export type Health = 'ready' | 'catching-up' | 'failed' | 'diverged' | 'not-ready' | 'down';

/** A component's tile (component-watch.ts watches them). */
export interface ComponentView {
  name: string;
  kind: 'redis' | 'service' | 'processor';
  health: Health;
  /** Why it is not ready, as it says. */
  reason?: string;
  /** The stream position its /readyz reports. */
  position?: string;
  /** How many times it was seen restarted (another process, or back after being down). */
  restarts: number;
  /** Since when (ms since the epoch) it has been in this health. */
  since: number;
  /** Processors: entries they hold unacknowledged. */
  pending?: number;
  /** Redis on a cluster: its nodes, as `CLUSTER NODES` on one of them says (cluster-nodes.ts). */
  nodes?: RedisNodeView[];
}

/** A node of a Redis Cluster, as one node's `CLUSTER NODES` sees it. */
export interface RedisNodeView {
  id: string;
  /** `host:port`. */
  address: string;
  role: 'primary' | 'replica';
  /** A replica: the address of the primary it follows. */
  follows?: string;
  /** The slot ranges a primary serves (inclusive), e.g. [[0, 5460]]. */
  slots: Array<[number, number]>;
  /** connected: up; failing: one node lost it (`fail?`); fail: the cluster agreed it is down. */
  state: 'connected' | 'failing' | 'fail';
}

export interface TimelineMark {
  at: number;
  component: string;
  /**
   * killed: by a chaos tool; down / back: seen by the dashboard; restarted: a new process seen;
   * failover: a Redis Cluster replica became the primary of slots (`detail` says which, and of whom).
   */
  what: 'killed' | 'down' | 'back' | 'restarted' | 'failover';
  by?: string;
  detail?: string;
}

/** A stream entry as `redis-cli XRANGE` shows it (long fields cut by raw-streams.ts). */
export interface RawEntry {
  id: string;
  fields: string[];
}

export interface StreamsSection {
  /** Per stream key, its last entries, newest first. */
  entries: Record<string, RawEntry[]>;
  accountsStream: string;
}

/** Every section by its name. */
export interface Sections {
  accounts: AccountsSection;
  audit: AuditSection;
  transfers: TransfersSection;
  components: ComponentView[];
  timeline: TimelineMark[];
  streams: StreamsSection;
}

export type SectionName = keyof Sections;

/**
 * An event's data: the sections changed (all of them in a `state` event, sent on connecting or
 * after a restart of the dashboard; those changed since the page's last event in a `patch`).
 */
export type SectionsUpdate = Partial<Sections>;

/** The server-sent events' names; `full` (data `{ error }`) when no more pages may follow. */
export type LiveEvent = 'state' | 'patch' | 'full';
