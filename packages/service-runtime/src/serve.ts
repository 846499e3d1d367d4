/** Serving over HTTP and stopping on SIGTERM: stop accepting, finish in-flight requests, clean up, exit 0. */
import type { AddressInfo } from 'node:net';
import { type ServerType, serve } from '@hono/node-server';
import type { Hono } from 'hono';
import type { Logger } from './logger.ts';

export interface HttpServer {
  port: number;
  /** Stops accepting connections and resolves once in-flight requests have been answered. */
  close(): Promise<void>;
}

export function listen(app: Hono, port: number, hostname?: string): Promise<HttpServer> {
  return new Promise((resolve, reject) => {
    let server: ServerType;
    const onError = (error: Error) => reject(error);
    server = serve({ fetch: app.fetch, port, hostname }, (info: AddressInfo) => {
      server.off('error', onError);
      resolve({
        port: info.port,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            if ('closeIdleConnections' in server) server.closeIdleConnections();
          }),
      });
    });
    server.once('error', onError);
  });
}

export interface RunServiceOptions {
  app: Hono;
  port: number;
  log: Logger;
  /** Called after the HTTP server has drained: stop projections, close Redis. */
  onStop: () => Promise<void>;
  /** After this long a stop that has not finished exits 1 anyway (Kubernetes gives 30 s by default). */
  graceMs?: number;
}

/** Listens, logs where, and stops cleanly on SIGTERM or SIGINT. Resolves once listening. */
export async function runService({ app, port, log, onStop, graceMs = 10_000 }: RunServiceOptions): Promise<HttpServer> {
  const server = await listen(app, port);
  log.info({ port: server.port }, 'listening');
  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping: no new connections, finishing requests in flight');
    const force = setTimeout(() => {
      log.error({ graceMs }, 'stop took longer than the grace period; exiting anyway');
      process.exit(1);
    }, graceMs);
    force.unref();
    try {
      await server.close();
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
