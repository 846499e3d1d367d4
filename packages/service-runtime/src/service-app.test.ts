import http from 'node:http';
import { testSuite } from '@microbank/testing';
import * as assert from 'uvu/assert';
import { createLogger } from './logger.ts';
import { createMetrics } from './metrics.ts';
import { listen } from './serve.ts';
import { createServiceApp, getOnly, MAX_BODY_BYTES, type Readiness, route } from './service-app.ts';

const app = testSuite('service app');

function serviceApp(readiness: Readiness = { ready: true }) {
  const metrics = createMetrics('test');
  const built = createServiceApp({ log: createLogger('test', 'silent'), metrics, readiness: () => readiness });
  getOnly(built, '/boom', () => {
    throw new Error('secret internals at line 42');
  });
  getOnly(built, '/redis-away', () => {
    throw new Error("Stream isn't writeable and enableOfflineQueue options is false");
  });
  return { app: built, metrics };
}

app('healthz answers while the process lives', async () => {
  const response = await serviceApp({ ready: false, reason: 'x' }).app.request('/healthz');
  assert.is(response.status, 200);
  const body = (await response.json()) as Record<string, string>;
  assert.is(body.status, 'alive');
  assert.match(body.instance ?? '', new RegExp(`/${process.pid}$`));
  assert.ok(!Number.isNaN(Date.parse(body.startedAt ?? '')), 'when the process started');
});

app('readyz is 200 when ready and 503 JSON with the reason when not', async () => {
  assert.is((await serviceApp().app.request('/readyz')).status, 200);
  const response = await serviceApp({ ready: false, reason: 'catching up' }).app.request('/readyz');
  assert.is(response.status, 503);
  assert.equal(await response.json(), { error: 'unavailable', message: 'catching up' });
});

app('metrics count requests by route pattern, and unknown routes as one label', async () => {
  const { app: built } = serviceApp();
  await built.request('/healthz');
  await built.request('/no/such/route');
  const text = await (await built.request('/metrics')).text();
  assert.match(
    text,
    /microbank_http_requests_total\{method="GET",route="\/healthz",status="200",microbank_service="test"\} 1/,
  );
  assert.match(
    text,
    /microbank_http_requests_total\{method="GET",route="unmatched",status="404",microbank_service="test"\} 1/,
  );
});

app('an unknown route is a 404 JSON', async () => {
  const response = await serviceApp().app.request('/nope');
  assert.is(response.status, 404);
  assert.equal(await response.json(), { error: 'not_found', message: 'no route GET /nope' });
});

app('a wrong method is a 405 JSON with Allow', async () => {
  const response = await serviceApp().app.request('/healthz', { method: 'DELETE' });
  assert.is(response.status, 405);
  assert.is(response.headers.get('allow'), 'GET, HEAD');
  assert.equal(await response.json(), {
    error: 'method_not_allowed',
    message: 'DELETE is not allowed on /healthz; use GET',
  });
});

app('an oversized body is a 413 JSON', async () => {
  const response = await serviceApp().app.request('/healthz', {
    method: 'POST',
    body: 'x'.repeat(MAX_BODY_BYTES + 1),
  });
  assert.is(response.status, 413);
  assert.is(((await response.json()) as { error: string }).error, 'payload_too_large');
});

app('an unexpected error is a 500 JSON without internals', async () => {
  const response = await serviceApp().app.request('/boom');
  assert.is(response.status, 500);
  const body = await response.text();
  assert.not.match(body, /secret internals|at line/);
  assert.equal(JSON.parse(body), { error: 'internal', message: 'internal error; see the service log' });
});

app('Redis away is a 503 with Retry-After (send it again), not a 500', async () => {
  const response = await serviceApp().app.request('/redis-away');
  assert.is(response.status, 503);
  assert.is(response.headers.get('retry-after'), '1');
  assert.equal(await response.json(), { error: 'unavailable', message: 'Redis is not answering right now; try again' });
});

app('serves over a real socket on an ephemeral port and closes', async () => {
  const server = await listen(serviceApp().app, 0, '127.0.0.1');
  try {
    assert.ok(server.port > 0);
    const response = await fetch(`http://127.0.0.1:${server.port}/healthz`);
    assert.is(response.status, 200);
  } finally {
    await server.close();
  }
});

app('over a socket, a body is read whole up to the limit and refused (413) beyond it, however it is sent', async () => {
  const { app: built } = serviceApp();
  const bodiesRead: number[] = [];
  route(built, '/echo', {
    post: async (c) => {
      const text = await c.req.text();
      bodiesRead.push(text.length);
      return c.json({ length: text.length });
    },
  });
  const server = await listen(built, 0, '127.0.0.1');
  try {
    // Content-Length: the header alone decides; chunked: counted as it comes.
    for (const chunked of [false, true]) {
      const fits = await post(server.port, 'y'.repeat(MAX_BODY_BYTES), chunked);
      assert.is(fits.status, 200, `a body of the limit (chunked: ${chunked})`);
      assert.equal(JSON.parse(fits.body), { length: MAX_BODY_BYTES });
      const over = await post(server.port, 'x'.repeat(MAX_BODY_BYTES + 1), chunked);
      assert.is(over.status, 413, `a body over the limit (chunked: ${chunked})`);
      assert.is((JSON.parse(over.body) as { error: string }).error, 'payload_too_large');
    }
    assert.equal(bodiesRead, [MAX_BODY_BYTES, MAX_BODY_BYTES], 'the route ran for the bodies that fit only');
  } finally {
    await server.close();
  }
});

function post(port: number, body: string, chunked: boolean): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers = chunked
      ? { 'transfer-encoding': 'chunked' }
      : { 'content-length': String(Buffer.byteLength(body)) };
    const request = http.request({ host: '127.0.0.1', port, path: '/echo', method: 'POST', headers }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    request.on('error', reject);
    if (chunked) {
      // Two chunks, so that the size is known only once the body has come.
      request.write(body.slice(0, 100));
      request.end(body.slice(100));
    } else {
      request.end(body);
    }
  });
}

app.run();
