/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
/**
 * The dashboard page: it receives the bank's sections over server-sent events (the whole state on
 * connecting, then what changed), draws them, reconnects by itself when the server goes away
 * (EventSource sends the last event ID, so nothing shown goes missing), and makes transfers.
 * Everything is written with textContent: a stream entry typed in by hand is shown, never run.
 * The sections' shapes are the server's own (../sections.ts), imported as types only: nothing of
 * the server is bundled into the page.
 */
import type {
  AccountsSection,
  AuditSection,
  ComponentView,
  LiveEvent,
  RecentTransfer,
  RedisNodeView,
  Sections,
  SectionsUpdate,
  StreamsSection,
  TimelineMark,
  TransferLatency,
  TransfersSection,
} from '../sections.ts';

const state: SectionsUpdate = {};
const byId = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

function element<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, className?: string) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (className) node.className = className;
  return node;
}

const money = (value: number | undefined) => (value === undefined ? '—' : value.toLocaleString('en'));
const time = (ms: number) => new Date(ms).toLocaleTimeString('en-GB', { hour12: false });

/** Who a violation or a stuck item is about: its ledger, transfer or issuance. */
const about = ({ ledger, transfer, issuance }: { ledger?: string; transfer?: string; issuance?: string }) =>
  [ledger && `ledger ${ledger}`, transfer && `transfer ${transfer}`, issuance && `issuance ${issuance}`]
    .filter(Boolean)
    .join(', ');

function drawAudit(audit: AuditSection): void {
  const verdict = byId('verdict');
  const conserved = audit.conserved === true;
  verdict.textContent = conserved ? 'Money conserved' : 'MONEY NOT CONSERVED';
  verdict.className = `verdict ${conserved ? 'conserved' : 'broken'}`;
  const figures = byId('audit-figures');
  figures.replaceChildren();
  figures.dataset.violations = String(audit.violations.count);
  figures.dataset.stuck = String(audit.stuck.transfers + audit.stuck.issuances);
  const rows: Array<[string, string]> = [
    ['supply', money(audit.supply.total)],
    ['balances now', money(audit.balances)],
    ['in flight', `${money(audit.inFlight.amount)} (${audit.inFlight.transfers} transfers)`],
    ['stuck', `${audit.stuck.transfers + audit.stuck.issuances} (over ${audit.stuck.afterMs / 1_000} s)`],
    ['violations', money(audit.violations.count)],
  ];
  if (audit.issuing.issuances > 0) rows.splice(2, 0, ['issuing', money(audit.issuing.amount)]);
  if (audit.supply.openings > 0) rows.splice(1, 0, ['not issued (old openings)', money(audit.supply.openings)]);
  for (const [label, value] of rows) figures.append(element('dt', label), element('dd', value));
  for (const v of audit.violations.first) {
    figures.append(element('dt', 'violation'), element('dd', `${about(v)}: ${v.reason}`, 'violation'));
  }
  for (const s of audit.stuck.first) {
    const seconds = Math.round(s.ageMs / 1_000);
    figures.append(
      element('dt', 'stuck'),
      element('dd', `${about(s)} for ${seconds} s, waiting for ${s.waiting}`, 'stuck'),
    );
  }
  if (audit.checkpoint) {
    const { digest, streams } = audit.checkpoint;
    figures.append(element('dt', 'checkpoint'), element('dd', `${digest.slice(0, 16)}… over ${streams} streams`));
  }
}

function drawAccounts(section: AccountsSection): void {
  const body = byId('accounts').querySelector('tbody') as HTMLTableSectionElement;
  body.replaceChildren(
    ...section.accounts.map(({ name, balance }) => {
      const row = element('tr');
      row.dataset.account = name;
      const amount = element('td', money(balance), 'number');
      amount.dataset.balance = String(balance ?? '');
      row.append(element('th', name), amount);
      row.firstElementChild?.setAttribute('scope', 'row');
      return row;
    }),
  );
  const names = byId('account-names');
  names.replaceChildren(
    ...section.accounts.map(({ name }) => {
      const option = element('option');
      option.value = name;
      return option;
    }),
  );
}

/** Request to settlement as the stream recorded it; the figures in data attributes for tests and tools. */
function drawLatency(latency: TransferLatency): void {
  const shown = byId('transfer-latency');
  const span = `${latency.windowMs / 1_000} s`;
  const transfers = `${latency.transfers} transfer${latency.transfers === 1 ? '' : 's'}`;
  shown.dataset.windowMs = String(latency.windowMs);
  shown.dataset.transfers = String(latency.transfers);
  for (const figure of ['p50', 'p90', 'p99', 'max'] as const) {
    const value = latency[figure];
    if (value === undefined) delete shown.dataset[figure];
    else shown.dataset[figure] = String(value);
  }
  const { p50, p90, p99, max } = latency;
  shown.textContent =
    latency.transfers === 0 || max === undefined
      ? `Latency, request to settlement: no transfer settled in the last ${span}`
      : `Latency, request to settlement: p50 ${p50} ms · p90 ${p90} ms · p99 ${p99} ms · max ${max} ms over ${transfers} settled in the last ${span}`;
}

function drawTransfers(section: TransfersSection): void {
  byId('transfer-rates').textContent =
    `${section.ratePerSecond.toFixed(1)} settled per second · ${section.inFlight.transfers} in flight (${money(section.inFlight.amount)}) · ${section.parked.waiting} parked`;
  drawLatency(section.latency);
  const parked = byId('parked');
  parked.dataset.waiting = String(section.parked.waiting);
  parked.replaceChildren(
    ...section.parked.recent.map((p) => {
      const item = element(
        'li',
        `${p.reapplied ? 're-applied' : 'parked'}: ${p.from} → ${p.to} ${money(p.amount)} (${p.transfer.slice(0, 8)}, entry ${p.parked}): ${p.reason}`,
        p.reapplied ? 'reapplied' : 'parked',
      );
      item.dataset.transfer = p.transfer;
      return item;
    }),
  );
  const body = byId('transfers').querySelector('tbody') as HTMLTableSectionElement;
  body.replaceChildren(
    ...section.recent.map((t) => {
      const row = element('tr');
      row.dataset.transfer = t.transfer;
      const status = t.reason ? `${t.status}: ${t.reason}` : t.status;
      row.append(element('td', t.from), element('td', t.to), element('td', money(t.amount), 'number'));
      row.append(element('td', status, `status-${t.status}`));
      return row;
    }),
  );
  if (pendingFromForm) showFormOutcome(section.recent);
}

function drawComponents(components: ComponentView[]): void {
  const list = byId('components');
  list.replaceChildren(
    ...components
      .sort((a, b) => order(a) - order(b) || a.name.localeCompare(b.name))
      .map((c) => {
        const tile = element('li', undefined, `tile ${c.health}`);
        tile.dataset.component = c.name;
        tile.dataset.health = c.health;
        tile.append(element('h3', c.name));
        const health = element('p');
        health.append(element('span', c.health, 'health'), ` since ${time(c.since)} · restarts ${c.restarts}`);
        tile.append(health);
        if (c.position) tile.append(element('p', `at ${c.position}`));
        if (c.pending !== undefined) tile.append(element('p', `holds ${c.pending} unsettled`));
        if (c.reason && c.health !== 'ready') tile.append(element('p', c.reason));
        if (c.nodes) {
          tile.classList.add('cluster');
          tile.append(drawNodes(c.nodes));
        }
        return tile;
      }),
  );
}

const slotRanges = (slots: RedisNodeView['slots']) =>
  slots.map(([from, to]) => (from === to ? String(from) : `${from}-${to}`)).join(' ');

/** A Redis Cluster's nodes: primaries first, each followed by its replicas. */
function drawNodes(nodes: RedisNodeView[]): HTMLUListElement {
  const list = element('ul', undefined, 'nodes');
  // In slot order; a primary serving none (a failed one) last.
  const firstSlot = (n: RedisNodeView) => n.slots[0]?.[0] ?? Number.MAX_SAFE_INTEGER;
  const primaries = nodes.filter((n) => n.role === 'primary').sort((a, b) => firstSlot(a) - firstSlot(b));
  const followers = (primary: RedisNodeView) => nodes.filter((n) => n.follows === primary.address);
  const orphans = nodes.filter((n) => n.role === 'replica' && !primaries.some((p) => p.address === n.follows));
  for (const node of [...primaries.flatMap((p) => [p, ...followers(p)]), ...orphans]) {
    const slots = slotRanges(node.slots);
    const role = node.role === 'primary' ? `primary of ${slots || 'no slots'}` : `replica of ${node.follows ?? '?'}`;
    const item = element('li', undefined, `node ${node.role} ${node.state}`);
    item.dataset.node = node.address;
    item.dataset.role = node.role;
    item.dataset.state = node.state;
    item.dataset.slots = slots;
    if (node.follows) item.dataset.follows = node.follows;
    item.append(element('span', node.address, 'address'), ` ${role} · `, element('span', node.state, 'state'));
    list.append(item);
  }
  return list;
}

const order = (c: ComponentView) => ({ redis: 0, service: 1, processor: 2 })[c.kind] ?? 3;

function drawTimeline(marks: TimelineMark[]): void {
  const list = byId('timeline');
  list.replaceChildren(
    ...[...marks].reverse().map((m) => {
      const said = `${m.by ? ` (${m.by})` : ''}${m.detail ? `: ${m.detail}` : ''}`;
      const item = element('li', `${time(m.at)} ${m.component} ${m.what}${said}`, m.what);
      item.dataset.what = m.what;
      item.dataset.component = m.component;
      return item;
    }),
  );
  const strip = byId('timeline-strip');
  const now = Date.now();
  const span = 5 * 60_000;
  strip.replaceChildren(
    ...marks
      .filter((m) => now - m.at < span)
      .map((m) => {
        const tick = element('span', undefined, m.what);
        tick.style.left = `${(100 * (span - (now - m.at))) / span}%`;
        tick.title = `${time(m.at)} ${m.component} ${m.what}${m.detail ? `: ${m.detail}` : ''}`;
        return tick;
      }),
  );
}

function drawStreams(section: StreamsSection): void {
  const select = byId<HTMLSelectElement>('stream-select');
  const chosen = select.value;
  const keys = Object.keys(section.entries).sort();
  if (keys.join() !== [...select.options].map((o) => o.value).join()) {
    select.replaceChildren(
      ...keys.map((key) => {
        const option = element('option', key);
        option.value = key;
        return option;
      }),
    );
    if (keys.includes(chosen)) select.value = chosen;
  }
  const entries = section.entries[select.value] ?? [];
  byId('stream-entries').textContent = entries
    .map(({ id, fields }, i) => {
      const lines = [`${i + 1}) 1) "${id}"`];
      for (const [j, field] of fields.entries())
        lines.push(`   ${j === 0 ? '2) ' : '   '}${j + 1}) ${JSON.stringify(field)}`);
      return lines.join('\n');
    })
    .join('\n');
}

const draw: { [Section in keyof Sections]: (section: Sections[Section]) => void } = {
  audit: drawAudit,
  accounts: drawAccounts,
  transfers: drawTransfers,
  components: drawComponents,
  timeline: drawTimeline,
  streams: drawStreams,
};

function apply(update: SectionsUpdate): void {
  Object.assign(state, update);
  for (const name of Object.keys(update) as Array<keyof Sections>) draw[name]?.(update[name] as never);
}

function connect(): void {
  const connection = byId('connection');
  const events = new EventSource('/events');
  const receive = (message: MessageEvent<string>) => {
    connection.textContent = 'live';
    connection.className = 'connection';
    apply(JSON.parse(message.data) as SectionsUpdate);
  };
  for (const event of ['state', 'patch'] satisfies LiveEvent[]) events.addEventListener(event, receive);
  events.addEventListener('error', () => {
    connection.textContent = 'the dashboard is not answering: reconnecting…';
    connection.className = 'connection lost';
  });
}

let pendingFromForm: string | undefined;

function showFormOutcome(recent: RecentTransfer[]): void {
  const mine = recent.find((t) => t.transfer === pendingFromForm);
  if (!mine || mine.status === 'pending') return;
  byId('form-result').textContent =
    `Transfer ${mine.transfer.slice(0, 8)} ${mine.status}${mine.reason ? `: ${mine.reason}` : ''}`;
  pendingFromForm = undefined;
}

function setUpForm(): void {
  const form = byId<HTMLFormElement>('transfer-form');
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    for (const field of ['credential', 'from', 'to', 'amount', 'body']) byId(`${field}-error`).textContent = '';
    const data = new FormData(form);
    const amountText = String(data.get('amount') ?? '').trim();
    const amount = /^-?\d+(\.\d+)?$/.test(amountText) ? Number(amountText) : amountText;
    const result = byId('form-result');
    result.textContent = 'sending…';
    let answer: Response;
    try {
      answer = await fetch('/api/transfers', {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'idempotency-key': crypto.randomUUID(),
          // The person's own credential: the dashboard holds none and passes this one through.
          authorization: `Bearer ${String(data.get('credential') ?? '').trim()}`,
        },
        body: JSON.stringify({ from: data.get('from'), to: data.get('to'), amount }),
      });
    } catch {
      result.textContent = 'the dashboard is not answering; try again';
      return;
    }
    const body = (await answer.json().catch(() => ({}))) as {
      transfer?: string;
      status?: string;
      message?: string;
      fields?: Record<string, string>;
    };
    if (answer.status === 202 && body.transfer) {
      pendingFromForm = body.transfer;
      result.textContent = `Transfer ${body.transfer.slice(0, 8)} ${body.status ?? 'pending'}`;
      showFormOutcome(state.transfers?.recent ?? []);
      return;
    }
    result.textContent = body.message ?? `the transfer service answered ${answer.status}`;
    if (answer.status === 401 || answer.status === 403) byId('credential-error').textContent = body.message ?? '';
    for (const [field, problem] of Object.entries(body.fields ?? {})) {
      const slot = document.getElementById(`${field}-error`) ?? byId('body-error');
      slot.textContent = problem;
    }
  });
}

byId<HTMLSelectElement>('stream-select').addEventListener('change', () => {
  if (state.streams) drawStreams(state.streams);
});
setUpForm();
connect();
