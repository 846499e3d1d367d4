/** The bench's load client against a real node:http server on 127.0.0.1. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { assertRejects, testSuite } from '@microbank/testing';
import * as assert from 'uvu/assert';
import { LoadClient } from './http-load.ts';

const load = testSuite('bench load client');

/** A server that answers each POST as `answer` says; resolves to its port and a close. */
async function serve(answer: (request: http.IncomingMessage, body: string, response: http.ServerResponse) => void) {
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => answer(request, Buffer.concat(chunks).toString('utf8'), response));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    server,
    port: (server.address() as AddressInfo).port,
    connections: () => new Promise<number>((resolve) => server.getConnections((_, count) => resolve(count))),
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

load('answers whole, UTF-8 both ways, on kept-alive connections, one per request at once', async () => {
  const server = await serve((request, body, response) => {
    const text = JSON.stringify({ got: JSON.parse(body), key: request.headers['idempotency-key'] });
    response.writeHead(202, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
    response.end(text);
  });
  const client = new LoadClient();
  try {
    const body = JSON.stringify({ from: 'ŝtelo', to: 'mary', amount: 1 });
    const answers = await Promise.all(
      Array.from({ length: 5 }, (_, i) => client.post(server.port, '/transfers', { 'idempotency-key': `k${i}` }, body)),
    );
    assert.equal(
      answers.map((a) => [a.status, JSON.parse(a.body)]),
      Array.from({ length: 5 }, (_, i) => [202, { got: { from: 'ŝtelo', to: 'mary', amount: 1 }, key: `k${i}` }]),
    );
    for (let i = 0; i < 20; i++) await client.post(server.port, '/transfers', {}, body);
    assert.is(await server.connections(), 5, 'the five connections kept and used again');
  } finally {
    client.close();
    await server.close();
  }
});

load('an idle connection is not used again once the server is about to close it', async () => {
  let opened = 0;
  const server = await serve((_request, _body, response) => {
    response.writeHead(200, { 'content-type': 'application/json', 'content-length': 2 });
    response.end('{}');
  });
  const client = new LoadClient();
  try {
    // A server keeping idle connections 2 s (it says `Keep-Alive: timeout=2`): the client uses one
    // again for 1 s, and opens another after that, before the server would close the first.
    const port = server.port;
    server.server.keepAliveTimeout = 2_000;
    server.server.on('connection', () => opened++);
    await client.post(port, '/', {}, '{}');
    await client.post(port, '/', {}, '{}');
    assert.is(opened, 1, 'used again at once');
    await sleep(1_200);
    await client.post(port, '/', {}, '{}');
    assert.is(opened, 2, 'not used again 1.2 s idle');
  } finally {
    client.close();
    await server.close();
  }
});

load('a chunked answer, no answer in time, and a refused port fail the request', async () => {
  const server = await serve((request, _body, response) => {
    if (request.url === '/slow') return;
    response.writeHead(200, { 'content-type': 'application/json' });
    response.write('{"chunked":');
    response.end('true}');
  });
  const client = new LoadClient();
  try {
    await assertRejects(() => client.post(server.port, '/chunked', {}, '{}'), /cannot read \(no Content-Length\)/);
    await assertRejects(() => client.post(server.port, '/slow', {}, '{}', 100), /no answer within 100 ms/);
  } finally {
    client.close();
    await server.close();
  }
  await assertRejects(() => client.post(server.port, '/closed', {}, '{}'), /ECONNREFUSED/);
});

load.run();
