/**
 * balance facing hostile accounts (real HTTP servers standing in for them) and abusive load: it
 * asks only allowed URLs, follows no redirect, reads a few bytes at most, quotes nothing from
 * upstream, answers every kind of failure alike, and sheds load instead of growing.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { accountEvents, streamKey } from '@microbank/events';
import { startBooks } from '@microbank/ledger';
import { createLogger, createMetrics } from '@microbank/service-runtime';
import { appendEvent, closeRedis, connectRedis, silentLog, untilReady } from '@microbank/streams';
import { freePort, type RedisServerContext, redisSuite, spawnNode, uniquePrefix } from '@microbank/testing';
import * as assert from 'uvu/assert';
import { accountClient } from './account-client.ts';
import { accountUrls } from './account-url.ts';
import { allowedAccountUrl, parseUrlPatterns } from './account-url-policy.ts';
import { createBalanceApp } from './app.ts';

interface Hostile {
  url: string;
  /** Requests it received, by path. */
  requests: string[];
  /** Connections it accepted. */
  connections: number;
  /** The most connections it held open at once. */
  mostOpen: number;
  close(): Promise<void>;
}

/** A real HTTP server that answers as `handler` says, counting what reaches it. */
async function hostileAccount(handler: http.RequestListener): Promise<Hostile> {
  const requests: string[] = [];
  let connections = 0;
  let open = 0;
  let mostOpen = 0;
  const server = http.createServer((request, response) => {
    requests.push(request.url ?? '');
    handler(request, response);
  });
  server.on('connection', (socket) => {
    connections++;
    mostOpen = Math.max(mostOpen, ++open);
    socket.on('close', () => open--);
  });
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    get connections() {
      return connections;
    },
    get mostOpen() {
      return mostOpen;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

type Context = RedisServerContext & { john: Hostile };

const hostile = redisSuite<{ john: Hostile }>('balance against hostile accounts');

hostile.before(async (ctx) => {
  ctx.john = await hostileAccount((_request, response) => response.end('{"balance":100}'));
});

hostile.after(async (ctx) => {
  await ctx.john.close();
});

const log = createLogger('balance', 'silent');

/** balance's app over a registry in which each of `registered`'s accounts registered with its URL. */
async function balanceWith(ctx: Context, registered: Record<string, string>, pattern = 'http://127.0.0.1:*') {
  const prefix = uniquePrefix();
  const stream = streamKey('accounts', prefix);
  const accounts = startBooks({ redisAt: ctx.redisServer.url, log, name: 'balance', prefix });
  await accounts.projection.whenReady();
  let last = '0-0';
  for (const [account, url] of Object.entries(registered)) {
    last = await appendEvent(accounts.redis, stream, accountEvents, {
      type: 'AccountRegistered',
      data: { account, url, instance: 'test', registeredAt: new Date().toISOString() },
    });
  }
  await accounts.projection.waitForPosition(last, 5_000);
  const client = accountClient({ timeoutMs: 500, concurrency: 4, queue: 8, maxTotal: 64 });
  const app = createBalanceApp({
    log,
    metrics: createMetrics('balance'),
    ...accounts,
    patterns: parseUrlPatterns(pattern),
    urls: accountUrls(accounts.redis),
    client,
  });
  return {
    ask: async (account: string) => {
      const response = await app.request(`/balance/${account}`);
      return { status: response.status, text: await response.text(), retryAfter: response.headers.get('retry-after') };
    },
    close: async () => {
      client.close();
      await accounts.close();
    },
  };
}

hostile('a redirect to another host is not followed', async (ctx) => {
  const redirecting = await hostileAccount((_request, response) => {
    response.writeHead(302, { location: `${ctx.john.url}/balance` }).end();
  });
  const balance = await balanceWith(ctx, { 'eve-account': redirecting.url });
  try {
    const before = ctx.john.requests.length;
    const answer = await balance.ask('eve-account');
    assert.is(answer.status, 503);
    assert.is(redirecting.requests.length, 1);
    assert.is(ctx.john.requests.length, before, 'the redirect target was never asked');
  } finally {
    await balance.close();
    await redirecting.close();
  }
});

hostile('URLs outside the pattern, with user-info or with a path are never asked', async (ctx) => {
  const port = new URL(ctx.john.url).port;
  const balance = await balanceWith(
    ctx,
    {
      'localhost-account': `http://localhost:${port}`,
      'userinfo-account': `http://user:password@127.0.0.1:${port}`,
      'path-account': `http://127.0.0.1:${port}/admin`,
      'other-port-account': `http://127.0.0.1:${port}`,
    },
    `http://localhost:1,http://127.0.0.1:1`,
  );
  try {
    const before = ctx.john.requests.length;
    for (const account of ['localhost-account', 'userinfo-account', 'path-account', 'other-port-account']) {
      const answer = await balance.ask(account);
      assert.is(answer.status, 503, account);
      assert.not.match(answer.text, /password|user:|admin/);
    }
    assert.is(ctx.john.requests.length, before, 'no request left balance');
  } finally {
    await balance.close();
  }
});

hostile('the pattern can name the account: http://microbank-{account} allows only the account`s own host', () => {
  const patterns = parseUrlPatterns('http://microbank-{account}');
  assert.throws(() => parseUrlPatterns('ftp://x'), /not scheme:\/\/host/);
  assert.throws(() => parseUrlPatterns('http://a{b}'), /not scheme:\/\/host/);
  const allowed = (account: string, url: string) => typeof allowedAccountUrl(patterns, account, url) !== 'string';
  assert.ok(allowed('john-account', 'http://microbank-john-account'));
  assert.ok(allowed('john-account', 'http://microbank-john-account/'));
  assert.not.ok(allowed('john-account', 'http://microbank-mary-account'));
  assert.not.ok(allowed('john-account', 'http://microbank-john-account:8080'));
  assert.not.ok(allowed('john-account', 'https://microbank-john-account'));
});

hostile(
  'a huge answer is cut after a few bytes; upstream bytes, status and user-info are never quoted',
  async (ctx) => {
    const huge = await hostileAccount((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/json' });
      response.end(`{"balance":1,"pad":"${'SECRET-UPSTREAM'.repeat(1_000_000)}"}`);
    });
    const failing = await hostileAccount((_request, response) => {
      response.writeHead(500).end('SECRET-UPSTREAM internal details');
    });
    const balance = await balanceWith(ctx, { 'huge-account': huge.url, 'failing-account': failing.url });
    try {
      for (const account of ['huge-account', 'failing-account']) {
        const answer = await balance.ask(account);
        assert.is(answer.status, 503, account);
        assert.equal(JSON.parse(answer.text), {
          error: 'unavailable',
          message: `account ${account} did not give its balance`,
          account,
        });
      }
    } finally {
      await balance.close();
      await huge.close();
      await failing.close();
    }
  },
);

hostile('a closed port, a silent port and a wrong answer look the same from outside', async (ctx) => {
  const silent = await hostileAccount(() => {});
  const garbage = await hostileAccount((_request, response) => response.end('not json'));
  const balance = await balanceWith(ctx, {
    'a-account': `http://127.0.0.1:${await freePort()}`,
    'b-account': silent.url,
    'c-account': garbage.url,
  });
  try {
    const bodies = new Set<string>();
    for (const account of ['a-account', 'b-account', 'c-account']) {
      const answer = await balance.ask(account);
      assert.is(answer.status, 503);
      bodies.add(answer.text.replaceAll(account, 'X'));
    }
    assert.is(bodies.size, 1, [...bodies].join('\n'));
  } finally {
    await balance.close();
    await silent.close();
    await garbage.close();
  }
});

/** The most memory the process has held (VmHWM), in MiB. */
function peakMemoryMiB(pid: number): number {
  return Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;
}

hostile(
  '2,000 clients at once for a silent account: a few asks under way, the rest shed at once with Retry-After',
  async (ctx) => {
    const silent = await hostileAccount(() => {});
    const stream = streamKey('accounts');
    const writer = connectRedis(ctx.redisServer.url, 'test:writer', silentLog);
    await untilReady(writer);
    await appendEvent(writer, stream, accountEvents, {
      type: 'AccountRegistered',
      data: { account: 'silent-account', url: silent.url, instance: 't', registeredAt: new Date().toISOString() },
    });
    await closeRedis(writer);
    const service = spawnNode('packages/balance/src/main.ts', {
      // Admitted asks (16 at once, 16 queued) end only by timing out; the timeout outlasts the burst
      // of 2,000 even on a loaded machine, so no late arrival is admitted into a freed slot.
      env: { REDIS_URL: ctx.redisServer.url, PORT: '0', ACCOUNT_TIMEOUT_MS: '4000', ACCOUNT_QUEUE: '16' },
    });
    const agent = new http.Agent({ keepAlive: true, maxSockets: 2_000 });
    try {
      const port = await service.port();
      await service.logged('caught up; ready');
      const ask = () =>
        new Promise<{ status: number; retryAfter: string | undefined }>((resolve, reject) => {
          http
            .get({ host: '127.0.0.1', port, path: '/balance/silent-account', agent }, (response) => {
              response.resume();
              response.on('end', () =>
                resolve({ status: response.statusCode ?? 0, retryAfter: response.headers['retry-after'] as string }),
              );
            })
            .on('error', reject);
        });
      const answers = await Promise.all(Array.from({ length: 2_000 }, ask));
      assert.ok(
        answers.every((answer) => answer.status === 503 && answer.retryAfter === '1'),
        'every ask answered 503 with Retry-After',
      );
      // 16 asks at once (ACCOUNT_CONCURRENCY); the server sees an aborted socket close a moment late.
      assert.ok(silent.mostOpen <= 20, `${silent.mostOpen} connections to the account at once`);
      assert.ok(silent.connections <= 16 + 16, `${silent.connections} connections in all`);
      const peak = peakMemoryMiB(service.pid);
      assert.ok(peak < 200, `balance peaked at ${Math.round(peak)} MiB`);
    } finally {
      agent.destroy();
      await service.stop();
      await silent.close();
    }
  },
);

hostile.run();
