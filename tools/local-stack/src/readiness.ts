/** Start-up checks of the local stack: ports free before it starts, services ready before it says so. */
import net from 'node:net';
import { waitFor } from '@microbank/processes';

/** Fails with a clear message when something already listens on `port`. */
export async function freePortOrExplain(port: number, what: string): Promise<void> {
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
      `port ${port} on 127.0.0.1 (for ${what}) is already in use: is another microbank stack running? Stop it (Ctrl-C in its terminal), free the port, or move this stack with MICROBANK_PORT_BASE and MICROBANK_REDIS_PORT.`,
    );
  }
}

/** Resolves once the service at `port` answers /readyz with 200; gives up when `cancelled()` turns true. */
export async function waitUntilReady(port: number, cancelled: () => boolean): Promise<void> {
  await waitFor(
    `the service on port ${port} to be ready`,
    async () => (await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(1_000) })).status,
    (status) => status === 200,
    {
      timeoutMs: Number.POSITIVE_INFINITY,
      intervalMs: 100,
      giveUp: () => (cancelled() ? 'the stack is stopping' : undefined),
    },
  );
}
