/**
 * Serving over HTTP, and stopping on SIGTERM the way Kubernetes needs: keep accepting for a short
 * pause (the pod is being taken out of the Service's endpoints; connections already routed to it
 * keep arriving), then stop accepting, give the requests under way a while to finish, close
 * whatever connection is left (a client that never finishes its request must not hold the pod),
 * run the stop hooks, exit 0.
 */
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { type ServerType, serve } from '@hono/node-server';
import type { Hono } from 'hono';
import type { Logger } from './logger.ts';

export interface HttpServer {
  port: number;
  /**
   * Stops accepting connections; resolves once the requests under way have been answered, or
   * after `drainMs`, when the connections still open are closed.
   */
  close(drainMs?: number, onForced?: () => void): Promise<void>;
}

/** Slow clients get this long to send a request's headers, and this long for the whole request. */
const HEADERS_TIMEOUT_MS = 10_000;
const REQUEST_TIMEOUT_MS = 30_000;

export function listen(app: Hono, port: number, hostname?: string): Promise<HttpServer> {
  return new Promise((resolve, reject) => {
    let server: ServerType;
    const onError = (error: Error) => reject(error);
    server = serve(
      {
        fetch: app.fetch,
        port,
        hostname,
        serverOptions: { headersTimeout: HEADERS_TIMEOUT_MS, requestTimeout: REQUEST_TIMEOUT_MS },
      },
      (info: AddressInfo) => {
        server.off('error', onError);
        resolve({ port: info.port, close: (drainMs = 5_000, onForced) => closeServer(server, drainMs, onForced) });
      },
    );
    server.once('error', onError);
  });
}

async function closeServer(server: ServerType, drainMs: number, onForced?: () => void): Promise<void> {
  const closed = new Promise<void>((done) => server.close(() => done()));
  const http = server as ServerType & { closeIdleConnections?: () => void; closeAllConnections?: () => void };
  http.closeIdleConnections?.();
  const drained = await Promise.race([closed.then(() => true), sleep(drainMs).then(() => false)]);
  if (!drained) {
    onForced?.();
    http.closeAllConnections?.();
    await closed;
  }
}

export interface RunServiceOptions {
  app: Hono;
  port: number;
  log: Logger;
  /** Called after the HTTP server has closed: stop projections, close Redis. */
  onStop: () => Promise<void>;
  shutdown?: { delayMs: number; drainMs: number };
  /** Beyond the pause and the drain, how long the stop hooks may take before the process exits 1 anyway. */
  hooksGraceMs?: number;
}

/** Listens, logs where, and stops cleanly on SIGTERM or SIGINT. Resolves once listening. */
export async function runService({
  app,
  port,
  log,
  onStop,
  shutdown = { delayMs: 0, drainMs: 5_000 },
  hooksGraceMs = 10_000,
}: RunServiceOptions): Promise<HttpServer> {
  const server = await listen(app, port);
  log.info({ port: server.port }, 'listening');
  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    const graceMs = shutdown.delayMs + shutdown.drainMs + hooksGraceMs;
    const force = setTimeout(() => {
      log.error({ graceMs }, 'stop took longer than its grace period; exiting anyway');
      process.exit(1);
    }, graceMs);
    force.unref();
    try {
      if (shutdown.delayMs > 0) {
        log.info({ signal, ms: shutdown.delayMs }, 'stopping: still accepting while the endpoints change');
        await sleep(shutdown.delayMs);
      }
      log.info({ signal }, 'stopping: no new connections, finishing requests under way');
      await server.close(shutdown.drainMs, () =>
        log.warn({ drainMs: shutdown.drainMs }, 'closing connections still open after the drain'),
      );
      await onStop();
      log.info({}, 'stopped');
      process.exit(0);
    } catch (error) {
      log.error({ err: error }, 'stop failed');
      process.exit(1);
    }
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  return server;
}
