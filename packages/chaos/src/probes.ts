/** Is a component of the local stack up? For a service: /readyz answers 200. For Redis: PING answers PONG. */

import { type Component, REDIS_PORT, services, serviceUrl } from '@microbank/local-stack';
import { waitForPong } from '@microbank/redis-runner';

const readyUrls = new Map(services().map((spec) => [spec.name, serviceUrl(spec.name, '/readyz')]));

export async function isUp(component: Component): Promise<boolean> {
  if (component === 'redis')
    return waitForPong(REDIS_PORT, 300).then(
      () => true,
      () => false,
    );
  const url = readyUrls.get(component);
  if (!url) throw new Error(`no readiness URL for ${component}`);
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
    await response.body?.cancel();
    return response.ok;
  } catch {
    return false;
  }
}

/** The position a projection service reports on /readyz, or undefined when it does not answer. */
export async function reportedPosition(component: 'account-system' | 'balance'): Promise<string | undefined> {
  try {
    const response = await fetch(readyUrls.get(component) as string, { signal: AbortSignal.timeout(1_000) });
    const body = (await response.json()) as { position?: string };
    return response.ok ? body.position : undefined;
  } catch {
    return undefined;
  }
}
