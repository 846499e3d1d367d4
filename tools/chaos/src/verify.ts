/**
 * After the monkey stops and the stack goes quiet: is every acknowledged registration there, once, in
 * order, in both registries; is every component up, and none left paused (stopped: it answers
 * nothing, yet runs); have the projections reached the stream's end?
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { streamKey } from '@microbank/events';
import { componentsOf, isComponentPaused, type StackPlan } from '@microbank/local-stack';
import { streamEnd, untilReady } from '@microbank/streams';
import type { Acknowledged } from './load.ts';
import { isUp, reportedPosition, stackUrls } from './probes.ts';
import { connectStackRedis } from './stack-redis.ts';

export interface Verdict {
  componentsDown: string[];
  /** Components whose process is stopped (SIGSTOP) after the run: each is also down. */
  componentsPaused: string[];
  streamEnd: string;
  positions: { 'account-system'?: string; balance?: string };
  /** Acknowledged registrations missing from account-system's /accounts. */
  lostInAccountSystem: string[];
  /** Acknowledged registrations balance answers 404 for. */
  lostInBalance: string[];
  duplicates: string[];
  /** True when the acknowledged accounts appear in /accounts in the order they were acknowledged. */
  inOrder: boolean;
  passed: boolean;
}

export async function verifyNothingLost(
  plan: StackPlan,
  acknowledged: Acknowledged[],
  quietMs: number,
): Promise<Verdict> {
  const urls = stackUrls(plan);
  const deadline = Date.now() + quietMs;
  const components = componentsOf(plan);
  let componentsDown = [...components];
  while (componentsDown.length > 0 && Date.now() < deadline) {
    const up = await Promise.all(components.map((component) => isUp(plan, component)));
    componentsDown = components.filter((_, i) => !up[i]);
    if (componentsDown.length > 0) await sleep(100);
  }
  const componentsPaused = components.filter((component) => isComponentPaused(plan.dataDir, component));

  const redis = connectStackRedis(plan, 'chaos:verify');
  let end: string;
  try {
    await untilReady(redis, AbortSignal.timeout(quietMs));
    end = await streamEnd(redis, streamKey('accounts'));
  } finally {
    redis.disconnect();
  }

  // The projections tail: give them the quiet time to reach the end.
  let positions: Verdict['positions'] = {};
  while (Date.now() < deadline) {
    positions = {
      'account-system': await reportedPosition(plan, 'account-system'),
      balance: await reportedPosition(plan, 'balance'),
    };
    if (positions['account-system'] === end && positions.balance === end) break;
    await sleep(50);
  }

  // Bounded: a component left paused would otherwise hold the check forever.
  const listed = await fetch(`${urls.accounts}?position=${end}`, { signal: AbortSignal.timeout(10_000) }).then(
    async (response) => {
      if (!response.ok) throw new Error(`GET /accounts answered ${response.status}: ${await response.text()}`);
      return ((await response.json()) as { accounts: string[] }).accounts;
    },
  );
  const seen = new Set<string>();
  const duplicates = listed.filter((name) => seen.has(name) || !seen.add(name));
  const lostInAccountSystem = acknowledged.filter(({ account }) => !seen.has(account)).map(({ account }) => account);
  const ours = new Set(acknowledged.map(({ account }) => account));
  const listedOurs = listed.filter((name) => ours.has(name));
  const inOrder = listedOurs.every((name, i) => acknowledged[i]?.account === name) && lostInAccountSystem.length === 0;

  const lostInBalance: string[] = [];
  for (const { account } of acknowledged) {
    const response = await fetch(urls.balanceOf(account), { signal: AbortSignal.timeout(10_000) });
    await response.arrayBuffer();
    if (response.status === 404) lostInBalance.push(account);
  }

  const passed =
    componentsDown.length === 0 &&
    componentsPaused.length === 0 &&
    lostInAccountSystem.length === 0 &&
    lostInBalance.length === 0 &&
    duplicates.length === 0 &&
    inOrder &&
    positions['account-system'] === end &&
    positions.balance === end;
  return {
    componentsDown,
    componentsPaused,
    streamEnd: end,
    positions,
    lostInAccountSystem,
    lostInBalance,
    duplicates,
    inOrder,
    passed,
  };
}
