import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { testSuite } from '@microbank/testing';
import * as assert from 'uvu/assert';
import type { ClusterFigures, KillFigure } from './cluster-bench.ts';
import type { ReplayFigures } from './replay-bench.ts';
import { type BenchFigures, checkTargets, formatReport, type TargetCheck } from './report.ts';
import { escapeHtml, renderReportHtml } from './report-html.ts';
import { assertReportPage } from './report-page.ts';
import type { RestartFigures, RestartFrom } from './restart-bench.ts';
import { latencyHistogram, percentile } from './stats.ts';
import type { TransferFigures } from './transfers-bench.ts';

const report = testSuite('bench report page');

/** A run of the transfers group alone, made by hand: 1,000 latencies from 0.5 ms to 50 ms, 5 seconds of load. */
function handMadeFigures(transfers?: Partial<TransferFigures>): BenchFigures {
  const latencies = Array.from({ length: 1_000 }, (_, i) => 0.5 + (i * i) / 20_000);
  return {
    machine: { cpus: 2, cpuModel: 'a <b>bold</b> & "quoted" CPU', node: '24.0.0', redis: '8.0.0', loadAtStart: 0.5 },
    quick: true,
    startedAt: '2026-12-04T23:00:00.000Z',
    replay: [],
    restart_to_ready: [],
    transfers: {
      accounts: 10,
      sustainedPerSecond: 1_900,
      sustainedSeconds: 5,
      acceptedPerSecond: 1_950,
      offeredPerSecond: 500,
      p50Ms: 13,
      p99Ms: 49,
      latencySamples: latencies.length,
      recoveryMs: 800,
      recoveredTransfers: 7,
      floorPerSecond: 9_000,
      latencyHistogram: latencyHistogram(latencies),
      settledEachSecond: [1_850, 1_920, 1_880, 1_950, 1_900],
      cpu: { Redis: 0.4, services: 1.2 },
      ...transfers,
    },
  };
}

report('text from the figures is escaped; the page needs nothing from the network', () => {
  const figures = handMadeFigures();
  const targets: TargetCheck[] = [
    ...checkTargets(figures),
    {
      target: '<script>alert("x")</script> & more',
      limit: "<'limit'>",
      measured: '<img onerror=alert(1)>',
      met: false,
    },
  ];
  const html = renderReportHtml(figures, targets);
  assert.not.match(html, /<script|<img/i);
  assert.ok(html.includes('&#60;script&#62;alert(&#34;x&#34;)&#60;/script&#62; &#38; more'), 'the target, escaped');
  assert.ok(html.includes('a &#60;b&#62;bold&#60;/b&#62; &#38; &#34;quoted&#34; CPU'), 'the machine, escaped');
  // Nothing to fetch: no source, link, stylesheet import or url(); and the browser is told so.
  assert.not.match(html, /\ssrc=|\shref=|@import|url\(/i);
  assert.ok(html.includes(`content="default-src 'none'; style-src 'unsafe-inline'"`), 'a Content-Security-Policy');
  assert.is(escapeHtml(`<a href="x">it's & </a>`), '&#60;a href=&#34;x&#34;&#62;it&#39;s &#38; &#60;/a&#62;');
});

report(
  'CPU per transfer at the offered rate: per transfer accepted in its window, per offered one in older figures, none when nothing was accepted',
  () => {
    const line = (figures: BenchFigures) =>
      formatReport(figures, [])
        .split('\n')
        .find((text) => text.startsWith('CPU per transfer at 500/s offered'));
    // 400/s accepted of the 500 offered (the rest refused): 0.2 cores over 400 transfers a second.
    assert.is(
      line(handMadeFigures({ cpuAtRate: { Redis: 0.2, transfer: 0.3 }, acceptedAtRate: 400 })),
      'CPU per transfer at 500/s offered (from /proc; 0.50 cores busy, 400/s accepted): Redis 500 µs, transfer 750 µs',
    );
    assert.is(
      line(handMadeFigures({ cpuAtRate: { Redis: 0.2 } })),
      'CPU per transfer at 500/s offered (from /proc; 0.20 cores busy): Redis 400 µs',
    );
    // Every POST refused: no figure per transfer rather than an infinite one.
    assert.is(line(handMadeFigures({ cpuAtRate: { Redis: 0.2 }, acceptedAtRate: 0 })), undefined);
  },
);

report('recovery is met only when the killed processor held transfers to take over', () => {
  const recovery = (figures: BenchFigures) => checkTargets(figures).find((c) => c.target.startsWith('recovery:'));
  assert.equal(
    [recovery(handMadeFigures())?.met, recovery(handMadeFigures())?.measured],
    [true, '800 ms (7 transfers held)'],
  );
  const nothingHeld = recovery(handMadeFigures({ recoveryMs: 21, recoveredTransfers: 0 }));
  assert.equal(
    [nothingHeld?.met, nothingHeld?.measured],
    [false, 'not measured: the killed processor held no transfer'],
  );
});

report(
  'a target shows the floor under it measured in the same run, and says when that floor alone is over the limit',
  () => {
    const measured = (figures: BenchFigures, prefix: string) =>
      checkTargets(figures).find((c) => c.target.startsWith(prefix))?.measured;
    const restart = (history: string, from: RestartFrom, medianMs: number, bareProcessMs: number): RestartFigures => ({
      history,
      events: history === '1M' ? 1_000_000 : 10_000,
      accounts: 2,
      from,
      runs: 5,
      medianMs,
      minMs: medianMs,
      maxMs: medianMs,
      bareProcessMs,
    });
    const registry = (bareFoldMs: number | undefined): ReplayFigures => ({
      projection: 'registry',
      history: '1M',
      events: 1_000_000,
      cheapestReadMs: 800,
      projectionMs: 1_600,
      ratio: 2,
      bareFoldMs,
      bareFoldRatio: bareFoldMs === undefined ? undefined : bareFoldMs / 800,
    });
    const kill = (failedOverMs: number, recoveredMs = failedOverMs + 200): KillFigure => ({
      target: 'the transfers stream',
      node: '127.0.0.1:7000',
      recoveredMs,
      failedOverMs,
      flaggedMs: failedOverMs - 500,
      acceptedMs: recoveredMs - 100,
      wholeMs: recoveredMs + 3_000,
    });
    const cluster = (kills: KillFigure[], settings: Partial<ClusterFigures> = {}): ClusterFigures => {
      const recovered = kills.map((k) => k.recoveredMs);
      return {
        sustainedPerSecond: 640,
        sustainedSeconds: 5,
        acceptedPerSecond: 650,
        offeredPerSecond: 500,
        p50Ms: 20,
        p99Ms: 780,
        latencySamples: 5_000,
        cpu: { Redis: 1.2, services: 0.8 },
        primaries: 3,
        replicasPerPrimary: 2,
        nodeTimeoutMs: 5_000,
        confirmReplicas: 1,
        kills,
        recoveryP50Ms: percentile(recovered, 50),
        recoveryP99Ms: percentile(recovered, 99),
        recoveryMaxMs: Math.max(...recovered),
        trickle: { accepted: 20, indeterminate: 0, other: {}, unanswered: 0, completed: 20, rejected: 0 },
        logFile: '/dev/null',
        ...settings,
      };
    };
    /** 19 kills whose failover took 7 s, and one that took `slowestMs` (the p99 of 20). */
    const kills = (slowestMs: number, slowestRecoveredMs?: number) => [
      ...Array.from({ length: 19 }, () => kill(7_000)),
      kill(slowestMs, slowestRecoveredMs),
    ];
    /** A run whose 10k start with nothing to replay, registry bare fold and cluster took these. */
    const run = (startedMs: number, bareFoldMs: number | undefined, k: ClusterFigures): BenchFigures => ({
      ...handMadeFigures(),
      // Each restart's own bare process, different, so that one read in place of another shows.
      restart_to_ready: [
        restart('10k', 'full replay', 400, 210),
        restart('10k', 'snapshot', startedMs, 190),
        restart('1M', 'full replay', 2_700, 230),
      ],
      replay: [registry(bareFoldMs)],
      cluster: k,
    });
    const cases: Array<[string, BenchFigures, Record<string, string | RegExp>]> = [
      [
        // The 1M restart's limit: 1.25 x 800 + 230 = 1,230 ms; a bare fold (1,200 ms) and a bare
        // process (230 ms) need 1,430.
        'every floor over its limit',
        run(350, 1_200, cluster(kills(9_300))),
        {
          'restart -> ready with 2 accounts':
            '400 ms; with nothing to replay (from a snapshot): 350 ms, 160 ms over its bare process, more than the 150 ms',
          'restart -> ready with 1M events':
            '2,700 ms; a bare fold of the registry + bare process alone: 1,430 ms, over the limit',
          'replay of a registry': '1,600 ms (2.00x); a bare fold of the same entries alone: 1.50x, over the limit',
          'cluster: transfer latency': '780.0 ms (the cluster sustained 640/s in this run: 500/s is 0.78x of it)',
          'cluster failover':
            /; Redis's own failover alone, none counted past its kill's recovery: p99 9,300 ms, over the limit\)$/,
        },
      ],
      [
        // Each floor exactly at its limit is not over it.
        'every floor at its limit',
        run(340, 1_000, cluster(kills(8_000))),
        {
          'restart -> ready with 2 accounts':
            '400 ms; with nothing to replay (from a snapshot): 340 ms, 150 ms over its bare process',
          'restart -> ready with 1M events': '2,700 ms; a bare fold of the registry + bare process alone: 1,230 ms',
          'replay of a registry': '1,600 ms (2.00x); a bare fold of the same entries alone: 1.25x',
          'cluster failover': /; Redis's own failover alone, none counted past its kill's recovery: p99 8,000 ms\)$/,
        },
      ],
      [
        // The poll saw the promotion after the first transfer went through: the recovery bounds it.
        'a failover seen late',
        run(300, 900, cluster(kills(9_300, 7_900))),
        {
          'cluster failover':
            /^7,900 ms .*; Redis's own failover alone, none counted past its kill's recovery: p99 7,900 ms\)$/,
        },
      ],
      [
        // The 8 s goal is at 5 s of node timeout only: another run is not said to be over it.
        'a failover at other settings',
        run(300, 900, cluster(kills(9_300), { nodeTimeoutMs: 10_000 })),
        {
          'cluster failover':
            /: not the goal`s settings; Redis's own failover alone, none counted past its kill's recovery: p99 9,300 ms\)$/,
        },
      ],
      [
        'no bare fold in the figures, and nothing sustained on the cluster',
        run(300, undefined, cluster(kills(7_000), { sustainedPerSecond: 0 })),
        {
          'restart -> ready with 1M events': '2,700 ms',
          'replay of a registry': '1,600 ms (2.00x)',
          'cluster: transfer latency': '780.0 ms',
        },
      ],
    ];
    for (const [name, figures, expected] of cases) {
      for (const [prefix, text] of Object.entries(expected)) {
        const line = measured(figures, prefix);
        if (typeof text === 'string') assert.is(line, text, `${name}: ${prefix}`);
        else assert.match(line ?? '', text, `${name}: ${prefix}: ${line}`);
      }
    }
    // Without the start from a snapshot in the run, nothing is said of the start alone.
    assert.is(
      measured(
        { ...run(300, 900, cluster(kills(7_000))), restart_to_ready: [restart('10k', 'full replay', 400, 210)] },
        'restart -> ready with 2 accounts',
      ),
      '400 ms',
    );
  },
);

report('a histogram of no samples and no seconds of load are drawn as "no samples", not a crash', () => {
  const html = renderReportHtml(handMadeFigures({ latencyHistogram: latencyHistogram([]), settledEachSecond: [] }), []);
  assert.is(html.match(/>no samples</g)?.length, 2);
  assert.not.ok(html.includes('class="bar"'), 'no bars');
  assert.not.ok(html.includes('class="point"'), 'no points');
  // Figures from before the histogram was kept (an older --json) are drawn the same way.
  const older = handMadeFigures();
  delete (older.transfers as Partial<TransferFigures>).latencyHistogram;
  delete (older.transfers as Partial<TransferFigures>).settledEachSecond;
  assert.is(renderReportHtml(older, []).match(/>no samples</g)?.length, 2);
});

report(
  'opened from disk in Chromium, offline: the histogram, its limit, settled/s over time, the targets',
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'microbank-bench-report-'));
    try {
      const figures = handMadeFigures();
      const targets = checkTargets(figures);
      const file = join(dir, 'report.html');
      writeFileSync(file, renderReportHtml(figures, targets));
      await assertReportPage(file, figures, targets);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

report.run();
