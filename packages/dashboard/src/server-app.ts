/**
 * The dashboard's HTTP API: the page and its assets (all served from here: it works in a closed
 * network), `GET /events` (server-sent events with the bank as it changes), `GET /state` (the same
 * once, as JSON), and `POST /api/transfers`, which hands a transfer to the transfer service and
 * gives back its answer as it is (its own validation errors included).
 */
import { readFileSync } from 'node:fs';
import type { ServiceContext } from '@microbank/service-runtime';
import { createServiceApp, getOnly, httpError, type Readiness, route } from '@microbank/service-runtime';
import { errorMessage } from '@microbank/streams';
import type { Hono } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { BankView } from './bank-view.ts';
import type { LiveUpdates } from './live-updates.ts';

export interface DashboardAppOptions extends ServiceContext {
  view: BankView;
  updates: LiveUpdates;
  readiness: () => Readiness;
  /** The directory of index.html, app.js and app.css. */
  assets: URL;
  /** Where transfers are made; undefined: the form is off. */
  transferUrl: string | undefined;
}

const TYPES: Record<string, string> = {
  'index.html': 'text/html; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'app.css': 'text/css; charset=utf-8',
};

/** A heartbeat keeps proxies from closing a quiet stream. */
const HEARTBEAT_MS = 15_000;

export function createDashboardApp(options: DashboardAppOptions): Hono {
  const { view, updates, transferUrl } = options;
  const app = createServiceApp(options);
  const asset = (file: string) => readFileSync(new URL(file, options.assets));
  // Read once: the page is small and never changes while the process runs.
  const files = new Map(Object.keys(TYPES).map((file) => [file, asset(file)]));
  const serve = (file: string) => () =>
    new Response(files.get(file), {
      headers: {
        'content-type': TYPES[file] as string,
        'cache-control': 'no-cache',
        'x-content-type-options': 'nosniff',
      },
    });
  getOnly(app, '/', serve('index.html'));
  getOnly(app, '/assets/app.js', serve('app.js'));
  getOnly(app, '/assets/app.css', serve('app.css'));

  // Browsers ask for it whatever the page says: an empty answer, not a 404 in their console.
  getOnly(app, '/favicon.ico', (c) => c.body(null, 204));
  getOnly(app, '/state', (c) => c.json({ version: view.version(), ...view.changes(0) }));

  getOnly(app, '/events', (c) =>
    streamSSE(c, async (stream) => {
      const leave = updates.join(
        {
          send: (event, id, data) => {
            void stream.writeSSE({ event, id, data });
          },
        },
        c.req.header('last-event-id'),
      );
      if (!leave) {
        await stream.writeSSE({ event: 'full', data: '{"error":"too many pages open"}' });
        return;
      }
      const heartbeat = setInterval(() => void stream.write(': still here\n\n'), HEARTBEAT_MS);
      await new Promise<void>((resolve) => stream.onAbort(resolve));
      clearInterval(heartbeat);
      leave();
    }),
  );

  route(app, '/api/transfers', {
    post: async (c) => {
      if (!transferUrl) throw httpError(503, 'this dashboard has no TRANSFER_URL: it cannot make transfers');
      let answer: Response;
      try {
        answer = await fetch(new URL('/transfers', transferUrl), {
          method: 'POST',
          headers: {
            'content-type': c.req.header('content-type') ?? '',
            'idempotency-key': c.req.header('idempotency-key') ?? '',
            // The person's credential, passed through: the dashboard holds none of its own, so
            // reaching the page gives no power to move money.
            authorization: c.req.header('authorization') ?? '',
          },
          body: await c.req.text(),
          redirect: 'manual',
          signal: AbortSignal.timeout(5_000),
        });
      } catch (error) {
        options.log.warn({ err: errorMessage(error) }, 'the transfer service did not answer');
        throw httpError(503, 'the transfer service is not answering; try again', {}, { 'retry-after': '1' });
      }
      const body = (await answer.text()).slice(0, 16 * 1024);
      return c.body(body, answer.status as 202, { 'content-type': 'application/json' });
    },
  });

  return app;
}
