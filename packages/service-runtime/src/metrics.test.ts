import { testSuite } from '@microbank/testing';
import { Registry } from 'prom-client';
import * as assert from 'uvu/assert';
import { type MetricRows, registerMetrics } from './metrics.ts';

const metrics = testSuite('metrics from tables');

metrics('a gauge per row shows its read at each scrape, with the labels given', async () => {
  const registry = new Registry();
  const state = { ready: false, depth: 3 };
  const gauges: MetricRows<typeof state> = {
    test_ready: ['1 when ready', (s) => Number(s.ready)],
    test_depth: ['How deep', (s) => s.depth],
  };
  registerMetrics(registry, () => state, { gauges }, { projection: 'p' });
  assert.match(await registry.metrics(), /test_ready\{projection="p"\} 0\n[\s\S]*test_depth\{projection="p"\} 3\n/);
  state.ready = true;
  state.depth = 1;
  assert.match(await registry.metrics(), /test_ready\{projection="p"\} 1\n[\s\S]*test_depth\{projection="p"\} 1\n/);
});

metrics('a counter per row follows its running total: each scrape adds what it grew by', async () => {
  const registry = new Registry();
  const processor = { settled: 2 };
  registerMetrics(registry, () => processor, { totals: { test_settled_total: ['Settled', (p) => p.settled] } });
  assert.match(await registry.metrics(), /# HELP test_settled_total Settled\n[\s\S]*test_settled_total 2\n/);
  processor.settled = 5;
  assert.match(await registry.metrics(), /test_settled_total 5\n/);
  assert.match(await registry.metrics(), /test_settled_total 5\n/);
});

metrics.run();
