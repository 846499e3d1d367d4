/**
 * The bench run as one self-contained HTML page to look at: latency histograms and settled/s over
 * time drawn as inline SVG beside their limits, the targets, the machine. Nothing is fetched: no
 * script, no external style or font; a Content-Security-Policy says so to the browser.
 */
import type { ClusterFigures } from './cluster-bench.ts';
import {
  type BenchFigures,
  CLUSTER_P99_LIMIT_MS,
  describeRun,
  FAILOVER_RECOVERY_P99_LIMIT_MS,
  formatReport,
  ms,
  perSecond,
  SUSTAINED_LIMIT_PER_SECOND,
  type TargetCheck,
  TRANSFER_P99_LIMIT_MS,
} from './report.ts';
import type { LatencyHistogram } from './stats.ts';
import { describeSlow, type StageFigures } from './transfer-stages.ts';

export function renderReportHtml(figures: BenchFigures, targets: TargetCheck[]): string {
  const sections: string[] = [];
  const t = figures.transfers;
  if (t) {
    sections.push(
      '<section id="transfers">',
      `<h2>transfers: ${t.accounts} accounts, 2 transfer replicas, Redis AOF fsync always</h2>`,
      histogramSvg({
        id: 'transfers-latency',
        title: `Transfer latency at ${t.offeredPerSecond}/s offered: POST sent to the transfer seen completed`,
        histogram: t.latencyHistogram,
        limitMs: TRANSFER_P99_LIMIT_MS,
        limitLabel: `p99 limit ${ms(TRANSFER_P99_LIMIT_MS)}`,
      }),
      percentilesLine(t.latencyHistogram, t.offeredPerSecond),
      throughputSvg({
        id: 'transfers-throughput',
        title: `Transfers settled per second over the sustained load (${t.sustainedSeconds} s, 64 clients)`,
        settledEachSecond: t.settledEachSecond,
        limitPerSecond: SUSTAINED_LIMIT_PER_SECOND,
        floorPerSecond: t.floorPerSecond,
        sustainedPerSecond: t.sustainedPerSecond,
      }),
      '</section>',
    );
    if (t.stages) sections.push(stagesSection(t.stages, 'transfer', t.offeredPerSecond));
  }
  if (figures.cluster) {
    sections.push(failoverSection(figures.cluster));
    const k = figures.cluster;
    if (k.stages) sections.push(stagesSection(k.stages, 'cluster', k.offeredPerSecond));
  }
  const title = `microbank bench${figures.quick ? ' --quick' : ''}, ${figures.startedAt}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<h1>${escapeHtml(title)}</h1>
<p id="machine">${escapeHtml(describeRun(figures))}</p>
${sections.join('\n')}
<section>
<h2>targets</h2>
${targetsTable(targets)}
</section>
<details>
<summary>every figure, as <code>pnpm bench</code> printed it</summary>
<pre>${escapeHtml(formatReport(figures, targets))}</pre>
</details>
</body>
</html>
`;
}

/** Text made safe to put between HTML tags or inside a quoted attribute. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STYLE = `
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em auto; max-width: 60em; padding: 0 1em; color: #222; }
h1 { font-size: 1.3em; } h2 { font-size: 1.1em; margin-top: 1.5em; }
svg { display: block; max-width: 100%; height: auto; margin: 0.5em 0; background: #fafafa; }
svg text { font: 11px system-ui, sans-serif; fill: #333; }
.axis { stroke: #888; } .bar { fill: #4a7bb7; } .limit { stroke: #c62828; stroke-width: 2; }
.limit-label { fill: #c62828; } .p50 { stroke: #2e7d32; stroke-dasharray: 4 3; } .p50-label { fill: #2e7d32; }
.p99 { stroke: #6a1b9a; stroke-dasharray: 4 3; } .p99-label { fill: #6a1b9a; }
.floor { stroke: #777; stroke-dasharray: 6 4; } .mean { stroke: #4a7bb7; stroke-dasharray: 2 3; }
.settled { fill: none; stroke: #4a7bb7; stroke-width: 2; } .point { fill: #4a7bb7; }
.flagged { fill: #90a4ae; } .election { fill: #ffb74d; } .services { fill: #4a7bb7; }
svg text.no-samples { font-size: 16px; fill: #888; }
table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: 0.3em 0.6em; text-align: left; }
tr.met td.verdict { color: #2e7d32; } tr.missed td.verdict { color: #c62828; font-weight: bold; }
pre { font-size: 12px; overflow-x: auto; }
`;

const WIDTH = 760;
const HEIGHT = 300;
const PLOT = { left: 84, right: WIDTH - 16, top: 56, bottom: HEIGHT - 44 };

/** An `<svg>` with an accessible name (its `<title>`) and a stable id, around `body`. */
function svg(id: string, title: string, body: string[]): string {
  return [
    `<svg id="${escapeHtml(id)}" role="img" aria-labelledby="${escapeHtml(id)}-title" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" xmlns="http://www.w3.org/2000/svg">`,
    `<title id="${escapeHtml(id)}-title">${escapeHtml(title)}</title>`,
    ...body,
    '</svg>',
  ].join('\n');
}

function noSamples(id: string, title: string, className: string): string {
  return svg(id, title, [
    `<text class="no-samples ${className}" x="${WIDTH / 2}" y="${HEIGHT / 2}" text-anchor="middle">no samples</text>`,
  ]);
}

/** A vertical marker from the top of the plot to its axis, labelled on row `row` above the plot. */
function verticalMarker(x: number, className: string, label: string, row: number, data: string): string {
  // Labels read rightwards from their line, but for a line near the right edge.
  const anchor = x > PLOT.left + 0.8 * (PLOT.right - PLOT.left) ? 'end' : 'start';
  const labelX = anchor === 'end' ? x - 4 : x + 4;
  return [
    `<line class="${className}" ${data} x1="${f(x)}" x2="${f(x)}" y1="${PLOT.top - 46 + row * 14}" y2="${PLOT.bottom}"/>`,
    `<text class="${className}-label" x="${f(labelX)}" y="${PLOT.top - 38 + row * 14}" text-anchor="${anchor}">${escapeHtml(label)}</text>`,
  ].join('\n');
}

/** A horizontal line across the plot at `y`, labelled at its right end. */
function horizontalMarker(y: number, className: string, label: string, data: string): string {
  return [
    `<line class="${className}" ${data} x1="${PLOT.left}" x2="${PLOT.right}" y1="${f(y)}" y2="${f(y)}"/>`,
    `<text class="${className}-label" x="${PLOT.right - 4}" y="${f(y - 4)}" text-anchor="end">${escapeHtml(label)}</text>`,
  ].join('\n');
}

function axes(yLabel: string, xLabel: string): string[] {
  return [
    `<line class="axis" x1="${PLOT.left}" x2="${PLOT.left}" y1="${PLOT.top}" y2="${PLOT.bottom}"/>`,
    `<line class="axis" x1="${PLOT.left}" x2="${PLOT.right}" y1="${PLOT.bottom}" y2="${PLOT.bottom}"/>`,
    `<text x="14" y="${(PLOT.top + PLOT.bottom) / 2}" transform="rotate(-90 14 ${(PLOT.top + PLOT.bottom) / 2})" text-anchor="middle">${escapeHtml(yLabel)}</text>`,
    `<text x="${(PLOT.left + PLOT.right) / 2}" y="${HEIGHT - 6}" text-anchor="middle">${escapeHtml(xLabel)}</text>`,
  ];
}

/** Ticks on the y axis at 0, half and the top of the scale. */
function yTicks(top: number, format: (value: number) => string): string[] {
  return [0, top / 2, top].map((value) => {
    const y = PLOT.bottom - (value / top) * (PLOT.bottom - PLOT.top);
    return `<text x="${PLOT.left - 4}" y="${f(y + 4)}" text-anchor="end">${escapeHtml(format(value))}</text>`;
  });
}

/**
 * One bar per bucket, equal widths (the buckets are log-spaced, so the shape reads on a log axis),
 * the limit as a solid line and p50 and p99 as dashed ones, each placed within its bucket.
 */
function histogramSvg(chart: {
  id: string;
  title: string;
  histogram: LatencyHistogram | undefined;
  /** Absent for a chart held to no limit (a stage of a transfer). */
  limitMs?: number;
  limitLabel?: string;
}): string {
  const { id, title, histogram } = chart;
  if (!histogram || histogram.samples === 0) return noSamples(id, title, 'latency-histogram');
  const { boundsMs, counts } = histogram;
  const width = (PLOT.right - PLOT.left) / counts.length;
  const top = niceCeiling(Math.max(1, ...counts));
  const height = (count: number) => (count / top) * (PLOT.bottom - PLOT.top);
  const bucketName = (i: number) =>
    i === boundsMs.length ? `> ${boundsMs[i - 1]} ms` : `${i === 0 ? 0 : boundsMs[i - 1]}-${boundsMs[i]} ms`;
  const bars = counts.map((count, i) => {
    const x = PLOT.left + i * width;
    return [
      `<rect class="bar" data-bucket="${escapeHtml(bucketName(i))}" data-count="${count}" x="${f(x + 1)}" y="${f(PLOT.bottom - height(count))}" width="${f(width - 2)}" height="${f(height(count))}">`,
      `<title>${escapeHtml(`${bucketName(i)}: ${count.toLocaleString('en')} transfers`)}</title></rect>`,
      `<text x="${f(x + width / 2)}" y="${PLOT.bottom + 14}" text-anchor="middle">${i === boundsMs.length ? `>${boundsMs[i - 1]}` : boundsMs[i]}</text>`,
    ].join('');
  });
  /** Where `valueMs` falls on the axis: within its bucket, in proportion; the overflow bucket's middle. */
  const xOf = (valueMs: number) => {
    const i = boundsMs.findIndex((bound) => valueMs <= bound);
    if (i === -1) return PLOT.left + (counts.length - 0.5) * width;
    const low = i === 0 ? 0 : (boundsMs[i - 1] as number);
    const high = boundsMs[i] as number;
    return PLOT.left + (i + (valueMs - low) / (high - low)) * width;
  };
  const markers =
    chart.limitMs === undefined
      ? []
      : [verticalMarker(xOf(chart.limitMs), 'limit', chart.limitLabel ?? '', 0, `data-ms="${chart.limitMs}"`)];
  const p = histogram.percentiles;
  if (p) {
    markers.push(
      verticalMarker(xOf(p.p99Ms), 'p99', `p99 ${ms(p.p99Ms, 1)}`, 1, `data-ms="${p.p99Ms}"`),
      verticalMarker(xOf(p.p50Ms), 'p50', `p50 ${ms(p.p50Ms, 1)}`, 2, `data-ms="${p.p50Ms}"`),
    );
  }
  return svg(id, title, [
    `<g class="latency-histogram" data-samples="${histogram.samples}">`,
    ...axes('transfers', 'latency, ms (each bar: up to the bound under it)'),
    ...yTicks(top, (value) => Math.round(value).toLocaleString('en')),
    ...bars,
    ...markers,
    '</g>',
  ]);
}

/** A histogram per stage of the transfers at the offered rate, and which stage the slowest 1% spent longest in. */
function stagesSection(stages: StageFigures, bank: 'transfer' | 'cluster', offeredPerSecond: number): string {
  const where = bank === 'cluster' ? ' on the cluster' : '';
  return [
    `<section id="${bank}-stages">`,
    `<h2>where a transfer's latency goes${where} at ${offeredPerSecond}/s: ${stages.measured.toLocaleString('en')} transfers, stage by stage</h2>`,
    `<p>${escapeHtml(
      `Each stage from the ms Redis wrote each entry at (its ID) and the bench's own clock when it sent the POST and saw the settlement, placed on the wall clock: one clock, this machine's, to about a ms. ${stages.incomplete} transfers with an entry missing are in no chart.`,
    )}</p>`,
    `<p class="slow">${escapeHtml(describeSlow(stages, (value) => ms(value, 1)))}</p>`,
    ...stages.stages.map(({ name, label, histogram }) =>
      histogramSvg({
        id: bank === 'cluster' ? `cluster-stage-${name}` : `stage-${name}`,
        title: `Transfer stage ${label}${where}, at ${offeredPerSecond}/s offered`,
        histogram,
      }),
    ),
    '</section>',
  ].join('\n');
}

function percentilesLine(histogram: LatencyHistogram | undefined, offeredPerSecond: number): string {
  const p = histogram?.percentiles;
  if (!histogram || !p) return '<p class="percentiles">no latency samples</p>';
  return `<p class="percentiles">${escapeHtml(
    `${histogram.samples.toLocaleString('en')} transfers at ${offeredPerSecond}/s offered: p50 ${ms(p.p50Ms, 1)}, p90 ${ms(p.p90Ms, 1)}, p99 ${ms(p.p99Ms, 1)}, p99.9 ${ms(p.p999Ms, 1)}, max ${ms(p.maxMs, 1)}`,
  )}</p>`;
}

/** Settled/s, one point per second, under the target and beside the floor Redis alone allows. */
function throughputSvg(chart: {
  id: string;
  title: string;
  settledEachSecond: number[] | undefined;
  limitPerSecond: number;
  floorPerSecond: number;
  sustainedPerSecond: number;
}): string {
  const { id, title, settledEachSecond: points } = chart;
  if (!points || points.length === 0) return noSamples(id, title, 'throughput');
  const top = niceCeiling(Math.max(...points, chart.limitPerSecond, chart.floorPerSecond) * 1.05);
  const yOf = (perSecond: number) => PLOT.bottom - (perSecond / top) * (PLOT.bottom - PLOT.top);
  const xOf = (second: number) => PLOT.left + ((second + 0.5) / points.length) * (PLOT.right - PLOT.left);
  const line = points.map((n, i) => `${f(xOf(i))},${f(yOf(n))}`).join(' ');
  return svg(id, title, [
    '<g class="throughput">',
    ...axes('settled per second', 'second of the sustained load'),
    ...yTicks(top, (value) => perSecond(value)),
    ...points.map((_, i) => `<text x="${f(xOf(i))}" y="${PLOT.bottom + 14}" text-anchor="middle">${i + 1}</text>`),
    horizontalMarker(
      yOf(chart.limitPerSecond),
      'limit',
      `target ${perSecond(chart.limitPerSecond)}`,
      `data-per-second="${chart.limitPerSecond}"`,
    ),
    horizontalMarker(
      yOf(chart.floorPerSecond),
      'floor',
      `floor (bare pipelined Redis) ${perSecond(chart.floorPerSecond)}`,
      `data-per-second="${Math.round(chart.floorPerSecond)}"`,
    ),
    horizontalMarker(
      yOf(chart.sustainedPerSecond),
      'mean',
      `sustained ${perSecond(chart.sustainedPerSecond)}`,
      `data-per-second="${Math.round(chart.sustainedPerSecond)}"`,
    ),
    `<polyline class="settled" points="${line}"/>`,
    ...points.map(
      (n, i) =>
        `<circle class="point" data-second="${i + 1}" data-settled="${n}" cx="${f(xOf(i))}" cy="${f(yOf(n))}" r="3"><title>${escapeHtml(`second ${i + 1}: ${n.toLocaleString('en')} settled`)}</title></circle>`,
    ),
    '</g>',
  ]);
}

/**
 * Each primary kill of the cluster group as a stacked bar: until its peers flagged it failed, the
 * election, the services; the recovery limit across them.
 */
function failoverSection(k: ClusterFigures): string {
  const id = 'cluster-failover';
  const title = `Cluster failover, each of ${k.kills.length} primaries SIGKILLed: kill to the first transfer touching its slots completed (cluster-node-timeout ${k.nodeTimeoutMs.toLocaleString('en')} ms)`;
  const heading = `<h2>cluster: ${k.primaries} primaries x ${k.replicasPerPrimary} replicas; p50 ${ms(k.p50Ms, 1)}, p99 ${ms(k.p99Ms, 1)} at ${k.offeredPerSecond}/s offered; recovery p99 ${ms(k.recoveryP99Ms)}</h2>`;
  const kills = k.kills.filter((kill) => Number.isFinite(kill.recoveredMs));
  if (kills.length === 0) return `<section id="cluster">${heading}${noSamples(id, title, 'failover')}</section>`;
  const top = niceCeiling(Math.max(FAILOVER_RECOVERY_P99_LIMIT_MS, ...kills.map((kill) => kill.recoveredMs)) * 1.05);
  const yOf = (valueMs: number) => PLOT.bottom - (valueMs / top) * (PLOT.bottom - PLOT.top);
  const width = (PLOT.right - PLOT.left) / kills.length;
  const bars = kills.flatMap((kill, i) => {
    const x = f(PLOT.left + i * width + 1);
    const w = f(Math.max(1, width - 2));
    const segment = (className: string, fromMs: number, toMs: number, what: string) =>
      `<rect class="${className}" x="${x}" y="${f(yOf(toMs))}" width="${w}" height="${f(Math.max(0, yOf(fromMs) - yOf(toMs)))}"><title>${escapeHtml(`kill ${i + 1} (${kill.target}): ${what} ${ms(toMs - fromMs)}`)}</title></rect>`;
    return [
      `<g class="kill" data-recovered-ms="${Math.round(kill.recoveredMs)}">`,
      // A flag not seen (cleared within one look) leaves the whole wait until served grey.
      ...(Number.isFinite(kill.flaggedMs)
        ? [
            segment('flagged', 0, kill.flaggedMs, 'until flagged failed'),
            segment('election', kill.flaggedMs, kill.failedOverMs, 'the election'),
          ]
        : [segment('flagged', 0, kill.failedOverMs, 'until served (the flag not seen)')]),
      segment('services', kill.failedOverMs, kill.recoveredMs, 'the services'),
      '</g>',
    ];
  });
  return [
    '<section id="cluster">',
    heading,
    ...(k.latencyHistogram
      ? [
          histogramSvg({
            id: 'cluster-latency',
            title: `Cluster transfer latency at ${k.offeredPerSecond}/s offered, replica confirmation on: POST sent to the transfer seen completed`,
            histogram: k.latencyHistogram,
            limitMs: CLUSTER_P99_LIMIT_MS,
            limitLabel: `p99 aim ${ms(CLUSTER_P99_LIMIT_MS)}`,
          }),
          percentilesLine(k.latencyHistogram, k.offeredPerSecond),
        ]
      : []),
    svg(id, title, [
      ...axes('ms from the kill', 'kill, in order (grey: until flagged failed, orange: election, blue: the services)'),
      ...yTicks(top, (value) => ms(value)),
      ...bars,
      horizontalMarker(
        yOf(FAILOVER_RECOVERY_P99_LIMIT_MS),
        'limit',
        `recovery p99 limit ${ms(FAILOVER_RECOVERY_P99_LIMIT_MS)}`,
        `data-ms="${FAILOVER_RECOVERY_P99_LIMIT_MS}"`,
      ),
    ]),
    '</section>',
  ].join('\n');
}

function targetsTable(targets: TargetCheck[]): string {
  const rows = targets.map(
    (t) =>
      `<tr class="${t.met ? 'met' : 'missed'}"><td>${escapeHtml(t.target)}</td><td>${escapeHtml(t.limit)}</td><td>${escapeHtml(t.measured)}</td><td class="verdict">${t.met ? 'met' : 'MISSED'}</td></tr>`,
  );
  return `<table id="targets">
<thead><tr><th>target</th><th>limit (this run)</th><th>measured</th><th></th></tr></thead>
<tbody>
${rows.join('\n')}
</tbody>
</table>`;
}

/** The top of a scale: the first of 1, 2, 2.5, 5 or 10 times a power of ten at or above `value`, so the ticks read round. */
function niceCeiling(value: number): number {
  const power = 10 ** Math.floor(Math.log10(value));
  const step = [1, 2, 2.5, 5, 10].find((each) => each * power >= value) ?? 10;
  return step * power;
}

/** A coordinate, to a tenth of a pixel. */
function f(value: number): string {
  return String(Math.round(value * 10) / 10);
}
