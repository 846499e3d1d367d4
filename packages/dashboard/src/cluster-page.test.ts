/**
 * The dashboard on a real Redis Cluster (3 primaries, a replica each), in a real browser: the Redis
 * tile lists every node with its role and slots; a primary killed, its replica takes the slots over
 * and the page shows the new primary, the old one failed, and the failover on the timeline.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createLogger, createMetrics, type HttpServer, listen, projectionReadiness } from '@microbank/service-runtime';
import { withDeadline } from '@microbank/streams';
import { launchBrowser, type RedisCluster, spawnNode, startRedisCluster, testSuite } from '@microbank/testing';
import type { Browser, Page } from 'playwright-core';
import * as assert from 'uvu/assert';
import { type BankSources, startBankSources } from './bank-sources.ts';
import { type LiveUpdates, liveUpdates } from './live-updates.ts';
import { createDashboardApp } from './server-app.ts';

interface Context {
  dir: string;
  cluster: RedisCluster;
  sources: BankSources;
  updates: LiveUpdates;
  server: HttpServer;
  browser: Browser;
  page: Page;
}

const clusterPage = testSuite<Context>('dashboard on a Redis Cluster', {} as Context);

const SLOT_0 = 0;

/** The page as the image serves it: built from the sources now, into a dir of the test's. */
async function buildPage(outdir: string): Promise<URL> {
  const build = spawnNode('tools/build/src/main.ts', { args: ['--outdir', outdir] });
  const exit = await withDeadline(build.exited, 60_000, 'building the page', () => build.child.kill('SIGKILL'));
  if (exit.code !== 0) throw new Error(`the build failed:\n${build.lines.join('\n')}`);
  return pathToFileURL(join(outdir, 'dashboard', 'assets/'));
}

clusterPage.before(async (ctx) => {
  ctx.dir = mkdtempSync(join(tmpdir(), 'microbank-cluster-page-'));
  const assets = buildPage(ctx.dir);
  ctx.cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 1, nodeTimeoutMs: 1_000 });
  // Errors only: the failover makes every connection warn, as it should.
  const log = createLogger('dashboard', 'error');
  ctx.sources = startBankSources({
    redisAt: {
      urls: ctx.cluster.nodes.map(({ host, port }) => `redis://${host}:${port}`),
      cluster: true,
      confirm: { replicas: 1, timeoutMs: 1_000 },
    },
    log,
    watch: [],
    transferFormEnabled: false,
  });
  ctx.updates = liveUpdates(ctx.sources.view);
  const app = createDashboardApp({
    log,
    metrics: createMetrics('dashboard'),
    view: ctx.sources.view,
    updates: ctx.updates,
    readiness: () => projectionReadiness(ctx.sources.books.projection),
    assets: await assets,
    transferUrl: undefined,
  });
  ctx.server = await listen(app, 0, '127.0.0.1');
  ctx.browser = await launchBrowser();
  ctx.page = await ctx.browser.newPage({ viewport: { width: 1280, height: 1000 } });
  await ctx.page.goto(`http://127.0.0.1:${ctx.server.port}/`);
});

clusterPage.after(async (ctx) => {
  await ctx.browser?.close();
  await ctx.server?.close(1_000);
  ctx.updates?.stop();
  await ctx.sources?.stop();
  await ctx.cluster?.dispose();
  rmSync(ctx.dir, { recursive: true, force: true });
});

const nodeShown = (page: Page, address: string, attributes: string) =>
  page.locator(`#components li[data-component="redis"] li[data-node="${address}"]${attributes}`);

clusterPage('the Redis tile lists every node: primaries with their slots, replicas with their primary', async (ctx) => {
  const topology = await ctx.cluster.topology();
  assert.is(topology.length, 6);
  const address = (port: number) => `127.0.0.1:${port}`;
  for (const node of topology) {
    if (node.role === 'primary') {
      const slots = node.slots.map(([from, to]) => (from === to ? String(from) : `${from}-${to}`)).join(' ');
      await nodeShown(
        ctx.page,
        address(node.port),
        `[data-role="primary"][data-slots="${slots}"][data-state="connected"]`,
      ).waitFor({
        timeout: 10_000,
      });
    } else {
      const primary = topology.find((each) => each.id === node.primaryId);
      assert.ok(primary, `the primary of ${node.port}`);
      await nodeShown(
        ctx.page,
        address(node.port),
        `[data-role="replica"][data-follows="${address(primary.port)}"][data-state="connected"]`,
      ).waitFor({ timeout: 10_000 });
    }
  }
  await ctx.page.locator('#components li[data-component="redis"][data-health="ready"]').waitFor({ timeout: 10_000 });
  // Reached at the first look: no mark of Redis down or back.
  assert.is(await ctx.page.locator('#timeline li[data-component^="redis"]').count(), 0);
  // What a person reads: the first primary's slots, spelled out.
  assert.match(
    (await ctx.page.locator('#components li[data-component="redis"]').textContent()) ?? '',
    /primary of 0-5460/,
  );
});

clusterPage('a primary killed: its replica shown primary of its slots, the failover on the timeline', async (ctx) => {
  const { primary, replicas } = await ctx.cluster.shardOf(SLOT_0);
  const replica = replicas[0];
  assert.ok(replica !== undefined, 'slot 0 has a replica');
  const killed = `127.0.0.1:${primary}`;
  const promoted = `127.0.0.1:${replica}`;
  await ctx.cluster.kill(primary);
  await ctx.cluster.waitForPrimary(replica, SLOT_0, { timeoutMs: 20_000 });

  await nodeShown(ctx.page, promoted, '[data-role="primary"][data-slots="0-5460"][data-state="connected"]').waitFor({
    timeout: 10_000,
  });
  await nodeShown(ctx.page, killed, '[data-state="fail"]').waitFor({ timeout: 10_000 });
  const failover = ctx.page.locator(`#timeline li[data-what="failover"][data-component="redis ${promoted}"]`);
  await failover.waitFor({ timeout: 10_000 });
  assert.match((await failover.textContent()) ?? '', new RegExp(`primary of 0-5460 in place of ${killed}$`));
  await ctx.page
    .locator(`#timeline li[data-what="down"][data-component="redis ${killed}"]`)
    .waitFor({ timeout: 5_000 });
  // Every slot has a primary up again: the tile is ready.
  await ctx.page.locator('#components li[data-component="redis"][data-health="ready"]').waitFor({ timeout: 10_000 });
});

clusterPage.run();
