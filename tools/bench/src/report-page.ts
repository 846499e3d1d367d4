/**
 * What a bench report shows once opened from disk in a real browser (Debian's Chromium), offline,
 * every request other than the file itself refused; and what the tests hold it to.
 */
import { pathToFileURL } from 'node:url';
import { launchBrowser } from '@microbank/testing';
import * as assert from 'uvu/assert';
import type { BenchFigures, TargetCheck } from './report.ts';
import type { StageFigures } from './transfer-stages.ts';

export interface ReportChart {
  /** Its accessible name (the `<title>` its `aria-labelledby` points at). */
  title: string;
  visible: boolean;
  bars: number;
  limitLines: number;
  p50Lines: number;
  p99Lines: number;
  points: number;
  noSamples: boolean;
}

export interface ReportPage {
  /** Every URL the page asked for: its own file alone when it is self-contained. */
  requests: string[];
  /** Errors in the console (a resource the Content-Security-Policy refused shows here) and thrown. */
  errors: string[];
  /** By the chart's id. */
  charts: Record<string, ReportChart>;
  /** The targets table's rows, cell by cell. */
  targetRows: string[][];
}

export async function readReportPage(file: string): Promise<ReportPage> {
  const browser = await launchBrowser();
  try {
    const context = await browser.newContext({ offline: true });
    const requests: string[] = [];
    const errors: string[] = [];
    context.on('request', (request) => requests.push(request.url()));
    await context.route('**/*', (route) =>
      route.request().url().startsWith('file:') ? route.continue() : route.abort('blockedbyclient'),
    );
    const page = await context.newPage();
    page.on('console', (message) => {
      if (message.type() === 'error') errors.push(message.text());
    });
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(pathToFileURL(file).href, { waitUntil: 'load' });
    const charts: Record<string, ReportChart> = {};
    for (const svg of await page.locator('svg[id]').all()) {
      const id = (await svg.getAttribute('id')) as string;
      const count = (selector: string) => svg.locator(selector).count();
      charts[id] = {
        title: (await page.locator(`[id="${await svg.getAttribute('aria-labelledby')}"]`).textContent()) ?? '',
        visible: await svg.isVisible(),
        bars: await count('rect.bar'),
        limitLines: await count('line.limit'),
        p50Lines: await count('line.p50'),
        p99Lines: await count('line.p99'),
        points: await count('circle.point'),
        noSamples: (await count('text.no-samples')) > 0,
      };
    }
    const targetRows: string[][] = [];
    for (const row of await page.locator('table#targets tbody tr').all()) {
      targetRows.push(await row.locator('td').allTextContents());
    }
    return { requests, errors, charts, targetRows };
  } finally {
    await browser.close();
  }
}

/**
 * The report at `file`, of these figures and targets, as a reader sees it: loaded with nothing
 * but itself, the transfers' latency histogram with a bar per bucket, the limit, p50 and p99
 * marked, settled/s with a point per second and the target line, a histogram per stage of a
 * transfer (when the figures have them, on the single Redis and on the cluster) with its p50 and
 * p99, a row per target.
 */
export async function assertReportPage(file: string, figures: BenchFigures, targets: TargetCheck[]): Promise<void> {
  const page = await readReportPage(file);
  assert.ok(
    page.requests.length > 0 && page.requests.every((url) => url.startsWith('file:')),
    `only the file itself was asked for: ${page.requests.join(', ')}`,
  );
  assert.equal(page.errors, [], 'no error in the console');
  const histogram = page.charts['transfers-latency'];
  assert.ok(histogram?.visible, 'the latency histogram is shown');
  assert.match(histogram?.title ?? '', /latency/i);
  assert.is(histogram?.bars, figures.transfers?.latencyHistogram.counts.length, 'a bar per bucket');
  assert.ok((histogram?.bars ?? 0) > 0, 'the histogram has bars');
  assert.equal([histogram?.limitLines, histogram?.p50Lines, histogram?.p99Lines], [1, 1, 1], 'limit, p50, p99');
  const throughput = page.charts['transfers-throughput'];
  assert.ok(throughput?.visible, 'settled/s over time is shown');
  assert.match(throughput?.title ?? '', /settled per second/i);
  assert.is(throughput?.points, figures.transfers?.settledEachSecond.length, 'a point per second');
  assert.ok((throughput?.points ?? 0) > 0, 'settled/s has points');
  assert.is(throughput?.limitLines, 1, 'the target line');
  assertStageCharts(page, figures.transfers?.stages, 'stage-');
  if (figures.cluster?.latencyHistogram) {
    const cluster = page.charts['cluster-latency'];
    assert.ok(cluster?.visible, 'the cluster`s latency histogram is shown');
    assert.is(cluster?.bars, figures.cluster.latencyHistogram.counts.length, 'a bar per bucket, on the cluster');
    assert.equal([cluster?.limitLines, cluster?.p50Lines, cluster?.p99Lines], [1, 1, 1], 'the cluster`s aim, p50, p99');
  }
  assertStageCharts(page, figures.cluster?.stages, 'cluster-stage-');
  assert.equal(
    page.targetRows,
    targets.map((t) => [t.target, t.limit, t.measured, t.met ? 'met' : 'MISSED']),
    'a row per target',
  );
}

/** A histogram per stage (charts named `${prefix}${stage}`), with its p50 and p99 and no limit. */
function assertStageCharts(page: ReportPage, stages: StageFigures | undefined, prefix: string): void {
  for (const stage of stages?.stages ?? []) {
    const chart = page.charts[`${prefix}${stage.name}`];
    assert.ok(chart?.visible, `the histogram of the stage ${prefix}${stage.name} is shown`);
    assert.match(chart?.title ?? '', /stage/i);
    if (stage.histogram.samples === 0) {
      assert.ok(chart?.noSamples, `the stage ${prefix}${stage.name} says it has no samples`);
      continue;
    }
    assert.is(chart?.bars, stage.histogram.counts.length, `a bar per bucket, stage ${prefix}${stage.name}`);
    assert.equal(
      [chart?.limitLines, chart?.p50Lines, chart?.p99Lines],
      [0, 1, 1],
      `p50 and p99 of ${prefix}${stage.name}, no limit`,
    );
  }
}
