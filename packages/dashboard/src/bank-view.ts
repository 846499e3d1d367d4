/**
 * Everything the page shows, in sections, each with the version it last changed at: the accounts
 * with their balances, the audit, the transfers, the components, the timeline, the streams. The
 * sources mark sections dirty; `changes(since)` gives the sections changed after a version, so a
 * page that reconnects (SSE's Last-Event-ID) gets what it missed and nothing more.
 */
import { streamKey } from '@microbank/events';
import type { AuditFigures, Books } from '@microbank/ledger';
import type { ClusterChange } from './cluster-nodes.ts';
import type { Transition } from './component-watch.ts';
import type { RawStreams } from './raw-streams.ts';
import type { ComponentView, ParkedView, SectionName, Sections, SectionsUpdate, TimelineMark } from './sections.ts';
import type { TransferFeed } from './transfer-feed.ts';

export const SECTIONS: readonly SectionName[] = ['accounts', 'audit', 'transfers', 'components', 'timeline', 'streams'];

const TIMELINE = 200;

export interface BankView {
  version(): number;
  /** Marks a section changed. */
  touch(section: SectionName): void;
  noteTransition(transition: Transition): void;
  noteClusterChange(change: ClusterChange, at: number): void;
  /** The sections changed after `since` (all of them for 0), rendered. */
  changes(since: number): SectionsUpdate;
}

export function bankView(sources: {
  books: Books;
  feed: TransferFeed;
  components: () => ComponentView[];
  raw: () => RawStreams | undefined;
  parked: () => ParkedView;
  transferFormEnabled: boolean;
}): BankView {
  const { books, feed } = sources;
  let version = 0;
  const changedAt = new Map<SectionName, number>(SECTIONS.map((section) => [section, 0]));
  const observed: TimelineMark[] = [];
  /** The audit's figures, computed once per `changes` for the sections that show them. */
  let figures: AuditFigures | undefined;
  const auditFigures = () => {
    figures ??= books.audit.figures();
    return figures;
  };

  const render: { [Section in SectionName]: () => Sections[Section] } = {
    accounts: () => ({
      accounts: [...books.registry.accounts.values()].map(({ name }) => {
        const ledger = books.ledgers.get(name);
        return { name, balance: ledger?.opened ? ledger.balance : undefined, lowest: ledger?.lowest };
      }),
      ready: books.projection.ready,
    }),
    audit: () => {
      // The checkpoint's positions (one per ledger) stay on balance's GET /audit: the page shows its digest.
      const { checkpoint, ...shown } = auditFigures();
      return {
        ...shown,
        checkpoint: checkpoint && { digest: checkpoint.digest, streams: Object.keys(checkpoint.positions).length },
      };
    },
    transfers: () => ({
      recent: feed.recent(),
      ratePerSecond: feed.ratePerSecond(),
      latency: feed.latency(),
      inFlight: auditFigures().inFlight,
      parked: sources.parked(),
      formEnabled: sources.transferFormEnabled,
    }),
    components: () => sources.components(),
    timeline: () => {
      const kills: TimelineMark[] = feed
        .kills()
        .map(({ at, component, by }) => ({ at, component, what: 'killed', by }));
      return [...kills, ...observed].sort((a, b) => a.at - b.at).slice(-TIMELINE);
    },
    streams: () => ({ entries: sources.raw()?.entries() ?? {}, accountsStream: streamKey('accounts') }),
  };

  return {
    version: () => version,
    touch(section) {
      version++;
      changedAt.set(section, version);
    },
    noteTransition({ at, component, from, to, restarted }) {
      if (from === 'unknown') return;
      if (to === 'down') observed.push({ at, component, what: 'down' });
      else if (from === 'down') observed.push({ at, component, what: 'back' });
      else if (restarted) observed.push({ at, component, what: 'restarted' });
      else return;
      if (observed.length > TIMELINE) observed.shift();
      this.touch('timeline');
    },
    noteClusterChange(change, at) {
      const component = `redis ${change.node}`;
      if (change.what === 'failover') {
        const replaced = change.replaced ? ` in place of ${change.replaced}` : '';
        observed.push({ at, component, what: 'failover', detail: `primary of ${change.slots}${replaced}` });
      } else {
        observed.push({ at, component, what: change.what });
      }
      if (observed.length > TIMELINE) observed.shift();
      this.touch('timeline');
    },
    changes(since) {
      figures = undefined;
      const out: Record<string, unknown> = {};
      for (const section of SECTIONS)
        if ((changedAt.get(section) ?? 0) > since || since === 0) out[section] = render[section]();
      return out as SectionsUpdate;
    },
  };
}
