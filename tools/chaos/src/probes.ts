/**
 * Is a component of the local stack up? For a service: /readyz answers 200. For Redis (or a node
 * of its cluster): PING answers PONG. And how long it takes to be up again.
 */
import { readPid, type StackPlan, serviceUrl } from '@microbank/local-stack';
import { waitFor } from '@microbank/processes';
import { waitForPong } from '@microbank/redis-runner';

/** Where the chaos load reads. */
export function stackUrls(plan: StackPlan) {
  return {
    accounts: serviceUrl(plan, 'account-system', '/accounts'),
    balanceOf: (account: string) => serviceUrl(plan, 'balance', `/balance/${account}`),
  };
}

export async function isUp(plan: StackPlan, component: string): Promise<boolean> {
  const node = plan.redisCluster?.nodes.find((each) => each.name === component);
  if (component === 'redis' || node) {
    return waitForPong(node?.port ?? plan.redisPort, 300).then(
      () => true,
      () => false,
    );
  }
  try {
    const response = await fetch(serviceUrl(plan, component, '/readyz'), { signal: AbortSignal.timeout(1_000) });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}

/** The position a projection service reports on /readyz, or undefined when it does not answer. */
export async function reportedPosition(plan: StackPlan, component: string): Promise<string | undefined> {
  try {
    const response = await fetch(serviceUrl(plan, component, '/readyz'), { signal: AbortSignal.timeout(1_000) });
    const body = (await response.json()) as { position?: string };
    return response.ok ? body.position : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Polls until the component is up (for a process other than `gone`, when given: the one killed);
 * resolves with how long that took, or undefined when it was not up within `limitMs`.
 */
export async function timeUntilUp(
  plan: StackPlan,
  component: string,
  { gone, limitMs = 60_000 }: { gone?: string; limitMs?: number } = {},
): Promise<number | undefined> {
  const since = Date.now();
  const upAgain = async () => {
    const current = readPid(plan.dataDir, component)?.handle;
    return current !== undefined && current !== gone && (await isUp(plan, component));
  };
  return waitFor(`${component} to be up`, upAgain, Boolean, { timeoutMs: limitMs, intervalMs: 20 }).then(
    () => Date.now() - since,
    () => undefined,
  );
}
