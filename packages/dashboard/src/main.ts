/** Wiring for the dashboard: what it reads, live updates for the pages, HTTP. */
import { projectionReadiness, registerProjectionMetrics, runService, serviceBasics } from '@microbank/service-runtime';
import { assetsDirectory } from './assets.ts';
import { startBankSources } from './bank-sources.ts';
import { readDashboardConfig } from './config.ts';
import { liveUpdates } from './live-updates.ts';
import { createDashboardApp } from './server-app.ts';

const { config, log, metrics } = serviceBasics('dashboard', readDashboardConfig);
const sources = startBankSources({
  redisAt: config.redis,
  log,
  watch: config.watch,
  transferFormEnabled: config.transferUrl !== undefined,
});
registerProjectionMetrics(metrics, sources.books.projection);
const updates = liveUpdates(sources.view);

await runService({
  app: createDashboardApp({
    log,
    metrics,
    view: sources.view,
    updates,
    readiness: () => projectionReadiness(sources.books.projection),
    assets: assetsDirectory(),
    transferUrl: config.transferUrl,
  }),
  port: config.port,
  // Open pages hold their event streams until the drain ends: keep it short.
  shutdown: { ...config.shutdown, drainMs: Math.min(config.shutdown.drainMs, 1_000) },
  log,
  onStop: async () => {
    updates.stop();
    await sources.stop();
  },
});
