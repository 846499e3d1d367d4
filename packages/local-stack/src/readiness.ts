/** Start-up checks of the local stack: ports free before it starts, services ready before it says so. */
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { ServiceSpec } from './stack-plan.ts';

/** Fails with a clear message when something already listens on `port`. */
export async function freePortOrExplain(port: number): Promise<void> {
  const inUse = await new Promise<boolean>((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
  if (inUse) {
    throw new Error(
      `port ${port} on 127.0.0.1 is already in use: is another microbank stack running? Stop it (Ctrl-C in its terminal) or free the port.`,
    );
  }
}

/** Polls the service's /readyz until it answers 200 (or `cancelled()` turns true). */
export async function waitUntilReady(spec: ServiceSpec, cancelled: () => boolean): Promise<void> {
  while (!cancelled()) {
    try {
      const response = await fetch(`http://127.0.0.1:${spec.port}/readyz`, { signal: AbortSignal.timeout(1_000) });
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
}
