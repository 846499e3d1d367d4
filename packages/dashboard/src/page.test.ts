/**
 * The dashboard in a real browser (Debian's Chromium through playwright-core) against the real
 * local stack: the transfers' latency percentiles, the accounts and their balances, a transfer made with curl on the page within a
 * second without a reload, the form's transfers and the API's own errors, a killed account-system
 * going down and coming back, the page reconnecting with nothing missed, and after a short chaos
 * run, the audit green and the kills on the timeline.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runChaos } from '@microbank/chaos';
import { parkedEvents, parkedKey } from '@microbank/events';
import {
  killComponent,
  recordKill,
  type StackProcess,
  serviceUrl,
  stackCredential,
  startStackProcess,
} from '@microbank/local-stack';
import { encodeEvent } from '@microbank/streams';
import { launchBrowser, REPO_ROOT, testSuite, waitFor } from '@microbank/testing';
import { Redis } from 'ioredis';
import type { Browser, Page } from 'playwright-core';
import * as assert from 'uvu/assert';

interface Context {
  dataDir: string;
  stack: StackProcess;
  browser: Browser;
  page: Page;
}

const dashboard = testSuite<Context>('dashboard in a browser', {} as Context);

dashboard.before(async (ctx) => {
  ctx.dataDir = mkdtempSync(join(tmpdir(), 'microbank-dashboard-'));
  try {
    ctx.stack = await startStackProcess(ctx.dataDir);
    ctx.browser = await launchBrowser();
    ctx.page = await ctx.browser.newPage({ viewport: { width: 1280, height: 1000 } });
    await ctx.page.goto(serviceUrl(ctx.stack.plan, 'dashboard'));
  } catch (error) {
    console.error((error as Error).message);
    throw error;
  }
});

dashboard.after(async (ctx) => {
  await ctx.browser?.close();
  await ctx.stack?.stop();
  rmSync(ctx.dataDir, { recursive: true, force: true });
});

const balanceShown = (page: Page, account: string, balance: number, timeout = 5_000) =>
  page.locator(`tr[data-account="${account}"] td[data-balance="${balance}"]`).waitFor({ timeout });

async function transferWithCurl(ctx: Context, from: string, to: string, amount: number): Promise<string> {
  const authorization = `Bearer ${stackCredential(ctx.dataDir)}`;
  const response = await fetch(serviceUrl(ctx.stack.plan, 'transfer-1', '/transfers'), {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': randomUUID(), authorization },
    body: JSON.stringify({ from, to, amount }),
  });
  assert.is(response.status, 202);
  const { transfer } = (await response.json()) as { transfer: string };
  await waitFor(
    'the transfer to complete',
    async () =>
      (
        (await (
          await fetch(serviceUrl(ctx.stack.plan, 'transfer-1', `/transfers/${transfer}`), {
            headers: { authorization },
          })
        ).json()) as {
          status: string;
        }
      ).status,
    (status) => status !== 'pending',
  );
  return transfer;
}

dashboard('the transfers` latency: p50, p90, p99 and max over the transfers settled in the window', async (ctx) => {
  // First in the suite: on this new stack the transfers made here are the only ones in the window.
  const shown = ctx.page.locator('#transfer-latency');
  await ctx.page.locator('#transfer-latency[data-transfers="0"]').waitFor({ timeout: 5_000 });
  assert.match((await shown.textContent()) ?? '', /no transfer settled in the last 60 s/);
  assert.not.match((await shown.textContent()) ?? '', /0 ms/);
  // Back and forth: the balances end where the next test expects them.
  const made: string[] = [];
  for (const [from, to] of [
    ['john-account', 'mary-account'],
    ['mary-account', 'john-account'],
    ['john-account', 'mary-account'],
    ['mary-account', 'john-account'],
  ] as const) {
    made.push(await transferWithCurl(ctx, from, to, 5));
  }
  await ctx.page.locator(`#transfer-latency[data-transfers="${made.length}"]`).waitFor({ timeout: 5_000 });
  const figure = async (name: string) => Number(await shown.getAttribute(`data-${name}`));
  const [p50, p90, p99, max] = [await figure('p50'), await figure('p90'), await figure('p99'), await figure('max')];
  for (const value of [p50, p90, p99, max]) assert.ok(Number.isInteger(value) && value > 0, `${value} ms`);
  assert.ok(p50 <= p90 && p90 <= p99 && p99 <= max, `p50 ${p50} p90 ${p90} p99 ${p99} max ${max}`);
  assert.match(
    (await shown.textContent()) ?? '',
    `p50 ${p50} ms · p90 ${p90} ms · p99 ${p99} ms · max ${max} ms over 4 transfers settled in the last 60 s`,
  );
});

dashboard('the page lists john-account and mary-account with their balances', async (ctx) => {
  await balanceShown(ctx.page, 'john-account', 100);
  await balanceShown(ctx.page, 'mary-account', 100);
  assert.match((await ctx.page.locator('#verdict').textContent()) ?? '', /Money conserved/);
  // The audit panel: no violation, nothing stuck, and the checkpoint's digest over the books' streams.
  await ctx.page.locator('#audit-figures[data-violations="0"][data-stuck="0"]').waitFor({ timeout: 5_000 });
  assert.match(
    (await ctx.page.locator('#audit-figures').textContent()) ?? '',
    /checkpoint[0-9a-f]{16}… over \d+ streams/,
  );
});

dashboard('a transfer made with curl shows on the page within a second, without a reload', async (ctx) => {
  const transfer = await transferWithCurl(ctx, 'john-account', 'mary-account', 7);
  const completed = Date.now();
  await ctx.page.locator(`tr[data-transfer="${transfer}"] .status-completed`).waitFor({ timeout: 1_000 });
  await balanceShown(ctx.page, 'john-account', 93, 1_000);
  await balanceShown(ctx.page, 'mary-account', 107, 1_000);
  assert.ok(Date.now() - completed <= 1_000, `on the page after ${Date.now() - completed} ms`);
});

dashboard(
  'the form makes a transfer, shows a rejected one`s reason and the API`s errors by the fields',
  async (ctx) => {
    const { page } = ctx;
    // No credential: the API's 401 is shown by the credential field, and nothing moves.
    await page.fill('#from', 'mary-account');
    await page.fill('#to', 'john-account');
    await page.fill('#amount', '3');
    await page.click('button[type="submit"]');
    await page.locator('#credential-error', { hasText: /Authorization/ }).waitFor({ timeout: 5_000 });
    // john's credential may debit john-account only.
    await page.fill('#credential', stackCredential(ctx.dataDir, 'john'));
    await page.click('button[type="submit"]');
    await page.locator('#credential-error', { hasText: /may not debit mary-account/ }).waitFor({ timeout: 5_000 });
    await page.fill('#credential', stackCredential(ctx.dataDir));
    const send = async (from: string, to: string, amount: string) => {
      await page.fill('#from', from);
      await page.fill('#to', to);
      await page.fill('#amount', amount);
      await page.click('button[type="submit"]');
    };
    await send('mary-account', 'john-account', '3');
    await page.locator('#form-result', { hasText: /completed/ }).waitFor({ timeout: 5_000 });
    await send('john-account', 'mary-account', '100000');
    await page.locator('#form-result', { hasText: /rejected: insufficient-funds/ }).waitFor({ timeout: 5_000 });
    await send('john-account', 'nobody-account', 'lots');
    await page.locator('#amount-error', { hasText: /expected number/i }).waitFor({ timeout: 5_000 });
    await send('john-account', 'nobody-account', '5');
    await page.locator('#to-error', { hasText: /no account named nobody-account/ }).waitFor({ timeout: 5_000 });
  },
);

dashboard('a parked transfer shows on the page until it is re-applied', async (ctx) => {
  // As a processor parks one (park-entry-2.lua appends this), and as `pnpm parked --retry` records its re-apply.
  const redis = new Redis(ctx.stack.plan.redisUrl);
  const transfer = randomUUID();
  try {
    const parked = await redis.xadd(
      parkedKey(),
      '*',
      ...encodeEvent(parkedEvents, {
        type: 'TransferParked',
        data: {
          entry: '1-0',
          transfer,
          from: 'john-account',
          to: 'mary-account',
          amount: 7,
          reason: 'WRONGTYPE Operation against a key holding the wrong kind of value',
          deliveries: 5,
          parkedAt: new Date().toISOString(),
        },
      }),
    );
    const item = ctx.page.locator(`#parked li[data-transfer="${transfer}"]`);
    await ctx.page.locator('#parked[data-waiting="1"]').waitFor({ timeout: 10_000 });
    assert.match((await item.textContent()) ?? '', /parked: john-account → mary-account .*WRONGTYPE/);
    assert.match((await ctx.page.textContent('#transfer-rates')) ?? '', /1 parked/);
    await redis.xadd(
      parkedKey(),
      '*',
      ...encodeEvent(parkedEvents, {
        type: 'ParkedTransferReapplied',
        data: { parked: String(parked), transfer, status: 'completed', reappliedAt: new Date().toISOString() },
      }),
    );
    await ctx.page.locator('#parked[data-waiting="0"]').waitFor({ timeout: 10_000 });
    assert.match((await item.textContent()) ?? '', /^re-applied/);
  } finally {
    redis.disconnect();
  }
});

dashboard('pnpm kill account-system: its tile turns down, then ready again', async (ctx) => {
  const tile = (health: string) => ctx.page.locator(`li[data-component="account-system"][data-health="${health}"]`);
  await tile('ready').waitFor({ timeout: 5_000 });
  const handle = killComponent(ctx.dataDir, 'account-system');
  const redis = new Redis(ctx.stack.plan.redisUrl);
  await recordKill(redis, 'account-system', 'test', handle);
  redis.disconnect();
  await tile('down').waitFor({ timeout: 5_000 });
  await tile('ready').waitFor({ timeout: 15_000 });
  const text = (await tile('ready').textContent()) ?? '';
  assert.match(text, /restarts [1-9]/);
});

dashboard('the dashboard killed: the page says so, reconnects by itself, and misses nothing', async (ctx) => {
  const { page } = ctx;
  killComponent(ctx.dataDir, 'dashboard');
  await page.locator('#connection.lost').waitFor({ timeout: 5_000 });
  // Made while the page had no server: it must still show up once the page is back.
  const transfer = await transferWithCurl(ctx, 'mary-account', 'john-account', 2);
  await page.locator('#connection:not(.lost)').waitFor({ timeout: 20_000 });
  await page.locator(`tr[data-transfer="${transfer}"] .status-completed`).waitFor({ timeout: 5_000 });
});

dashboard('after a short chaos run the audit is green and every kill is on the timeline', async (ctx) => {
  const report = await runChaos({
    plan: ctx.stack.plan,
    seed: 7,
    kills: 6,
    durationMs: 60_000,
    intervalMs: 500,
    components: ['account-system', 'balance', 'john-account', 'transfer-1', 'transfer-2'],
    verify: false,
    say: () => {},
  });
  assert.is(report.kills.length, 6);
  await waitFor(
    'the kills on the timeline',
    () => ctx.page.locator('#timeline li[data-what="killed"]').count(),
    (count) => count >= 6 + 1,
    { timeoutMs: 30_000 },
  );
  await ctx.page.locator('#verdict.conserved').waitFor({ timeout: 30_000 });
  await ctx.page.locator('#audit-figures[data-violations="0"]').waitFor({ timeout: 5_000 });
  // Every component back before the picture is taken.
  await waitFor(
    'every component back',
    () => ctx.page.locator('li.tile:not(.ready)').count(),
    (count) => count === 0,
    { timeoutMs: 30_000 },
  );
  await ctx.page.screenshot({
    path: process.env.MICROBANK_SCREENSHOT
      ? join(REPO_ROOT, 'docs', 'dashboard.png')
      : join(ctx.dataDir, 'dashboard.png'),
    fullPage: true,
  });
});

/** What a Grafana dashboard's queries use: metric names (histogram series by their metric's name) and label names. */
export function queriesOf(dashboardJson: string): { metrics: Set<string>; labels: Set<string> } {
  const metrics = new Set<string>();
  const labels = new Set<string>();
  const dashboard = JSON.parse(dashboardJson) as {
    panels: Array<{ targets: Array<{ expr: string; legendFormat?: string }> }>;
  };
  for (const panel of dashboard.panels) {
    for (const { expr, legendFormat = '' } of panel.targets) {
      const grouped = [...expr.matchAll(/\bby \(([^)]*)\)/g)].flatMap(([, list]) => (list as string).split(/,\s*/));
      const legend = [...legendFormat.matchAll(/\{\{(\w+)\}\}/g)].map(([, label]) => label as string);
      for (const label of [...grouped, ...legend]) if (label !== 'le') labels.add(label);
      for (const [name] of expr.matchAll(/microbank_[a-z_]+/g)) {
        if (!grouped.includes(name)) metrics.add(name.replace(/_(bucket|sum|count)$/, ''));
      }
    }
  }
  return { metrics, labels };
}

dashboard(
  'every metric and label the Grafana dashboard queries is exported by a service of the running stack',
  async (ctx) => {
    const exported = { metrics: new Set<string>(), labels: new Set<string>() };
    for (const spec of ctx.stack.plan.services) {
      const text = await (await fetch(serviceUrl(ctx.stack.plan, spec.name, '/metrics'))).text();
      for (const [, name] of text.matchAll(/^# TYPE (\S+)/gm)) exported.metrics.add(name as string);
      for (const [, series] of text.matchAll(/^microbank_\w+\{([^}]*)\}/gm)) {
        for (const [, label] of (series as string).matchAll(/(\w+)="/g)) exported.labels.add(label as string);
      }
    }
    const json = readFileSync(join(REPO_ROOT, 'k8s', 'grafana', 'microbank.json'), 'utf8');
    const missing = (used: { metrics: Set<string>; labels: Set<string> }) => [
      ...[...used.metrics].filter((name) => !exported.metrics.has(name)),
      ...[...used.labels].filter((label) => !exported.labels.has(label)),
    ];
    const used = queriesOf(json);
    assert.equal(missing(used), []);
    assert.ok(used.metrics.size >= 10, 'the panels name the metrics');
    assert.ok(used.labels.has('microbank_service'), 'the panels group by service');
    // A panel naming a metric or a label that no service exports is caught.
    assert.equal(missing(queriesOf(json.replace('microbank_audit_conserved', 'microbank_audit_conserved_typo'))), [
      'microbank_audit_conserved_typo',
    ]);
    assert.equal(missing(queriesOf(json.replace('by (le, microbank_service)', 'by (le, service)'))), ['service']);
  },
);

dashboard.run();
