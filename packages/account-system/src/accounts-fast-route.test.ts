import http from 'node:http';
import { type AccountsProjection, appendEvent, startAccountsProjection, streamKey } from '@microbank/events';
import { createLogger, createMetrics, type HttpServer, listen, MAX_BODY_BYTES } from '@microbank/service-runtime';
import { freePort, startTestRedis, type TestRedis, testSuite, uniquePrefix } from '@microbank/testing';
import * as assert from 'uvu/assert';
import { accountsFastRoute, createAccountSystemApp, POSITION_HEADER } from './app.ts';

interface Context {
  redisServer: TestRedis;
  opened: Array<{ accounts: AccountsProjection; server: HttpServer }>;
}

const fastRoute = testSuite<Context>('account-system: GET /accounts from node:http', {
  opened: [],
} as unknown as Context);

fastRoute.before(async (ctx) => {
  ctx.redisServer = await startTestRedis();
});

fastRoute.after.each(async (ctx) => {
  for (const { accounts, server } of ctx.opened.splice(0)) {
    await server.close();
    await accounts.close();
  }
});

fastRoute.after(async (ctx) => {
  await ctx.redisServer.dispose();
});

const log = createLogger('account-system', 'silent');

/** account-system listening on a real socket, wired as main.ts wires it. */
async function serveAccountSystem(ctx: Context, redisUrl = ctx.redisServer.url) {
  const stream = streamKey('accounts', uniquePrefix());
  const accounts = startAccountsProjection({ redisUrl, log, name: 'account-system', stream });
  const metrics = createMetrics('account-system');
  const app = createAccountSystemApp({ log, metrics, ...accounts, readWaitMaxMs: 2_000 });
  const server = await listen(app, 0, '127.0.0.1', accountsFastRoute({ metrics, ...accounts }));
  ctx.opened.push({ accounts, server });
  const register = (account: string) =>
    appendEvent(accounts.redis, stream, {
      type: 'AccountRegistered',
      data: { account, url: `http://${account}`, instance: 'test', registeredAt: new Date().toISOString() },
    });
  return { accounts, metrics, register, base: `http://127.0.0.1:${server.port}` };
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request by node:http, which (unlike fetch) sends a body with a GET. */
function ask(base: string, path: string, options: { method?: string; body?: string; chunked?: boolean } = {}) {
  return new Promise<Answer>((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (options.body !== undefined && !options.chunked)
      headers['content-length'] = String(Buffer.byteLength(options.body));
    const request = http.request(`${base}${path}`, { method: options.method ?? 'GET', headers }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (body += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body }));
    });
    request.on('error', reject);
    if (options.body !== undefined) request.write(options.body);
    request.end();
  });
}

fastRoute('answers the bytes and headers the app answers, at the same position', async (ctx) => {
  const { accounts, register, base } = await serveAccountSystem(ctx);
  await accounts.projection.whenReady();
  await register('john-account');
  const last = await register('mary-account');
  await accounts.projection.waitForPosition(last, 5_000);

  const fast = await ask(base, '/accounts');
  const viaApp = await ask(base, '/accounts?from=the-app');
  assert.is(fast.status, 200);
  assert.is(fast.body, '{"accounts":["john-account","mary-account"]}');
  assert.is(fast.body, viaApp.body);
  for (const header of ['content-type', 'content-length', POSITION_HEADER]) {
    assert.is(fast.headers[header], viaApp.headers[header], header);
  }
  assert.is(fast.headers[POSITION_HEADER], last);
});

fastRoute('a new registration changes the answer', async (ctx) => {
  const { accounts, register, base } = await serveAccountSystem(ctx);
  await accounts.projection.whenReady();
  assert.is((await ask(base, '/accounts')).body, '{"accounts":[]}');
  await accounts.projection.waitForPosition(await register('john-account'), 5_000);
  assert.is((await ask(base, '/accounts')).body, '{"accounts":["john-account"]}');
});

fastRoute('its answers are counted like the app`s', async (ctx) => {
  const { accounts, base } = await serveAccountSystem(ctx);
  await accounts.projection.whenReady();
  for (let i = 0; i < 3; i++) await ask(base, '/accounts');
  await ask(base, '/accounts?via=app');
  const metrics = (await ask(base, '/metrics')).body;
  assert.match(
    metrics,
    /microbank_http_requests_total\{method="GET",route="\/accounts",status="200",service="account-system"\} 4/,
  );
});

fastRoute('before the registry is ready, the app answers the 503', async (ctx) => {
  const { base } = await serveAccountSystem(ctx, `redis://127.0.0.1:${await freePort()}`);
  const answer = await ask(base, '/accounts');
  assert.is(answer.status, 503);
  assert.is((JSON.parse(answer.body) as { error: string }).error, 'unavailable');
});

fastRoute(
  'requests with a body are left to the app: too large is 413, whether its length is given or chunked',
  async (ctx) => {
    const { accounts, base } = await serveAccountSystem(ctx);
    await accounts.projection.whenReady();
    const large = 'x'.repeat(MAX_BODY_BYTES + 1);
    for (const path of ['/accounts', '/healthz']) {
      for (const chunked of [false, true]) {
        const answer = await ask(base, path, { method: 'POST', body: large, chunked });
        assert.is(answer.status, 413, `${path}, chunked: ${chunked}`);
        assert.is((JSON.parse(answer.body) as { error: string }).error, 'payload_too_large');
      }
    }
    // A GET's body means nothing to a fetch Request; the app answers as if there were none.
    for (const chunked of [false, true]) {
      const answer = await ask(base, '/accounts', { body: large, chunked });
      assert.is(answer.status, 200);
      assert.is(answer.body, '{"accounts":[]}');
    }
  },
);

fastRoute('other methods on /accounts are still the app`s: HEAD 200 without a body, POST 405', async (ctx) => {
  const { accounts, base } = await serveAccountSystem(ctx);
  await accounts.projection.whenReady();
  const head = await ask(base, '/accounts', { method: 'HEAD' });
  assert.is(head.status, 200);
  assert.is(head.body, '');
  const post = await ask(base, '/accounts', { method: 'POST' });
  assert.is(post.status, 405);
  assert.is(post.headers.allow, 'GET, HEAD');
});

fastRoute.run();
