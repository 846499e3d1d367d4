/** account-system under faults: Redis away at start, Redis losing its data, poison on the stream, SIGTERM under load. */
import { once } from 'node:events';
import { readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { accountEvents, accountRegistered, streamKey } from '@microbank/events';
import { encodeEvent } from '@microbank/streams';
import { portForLater, spawnNode, startTestRedis, type TestRedis, testSuite, waitFor } from '@microbank/testing';
import { Redis } from 'ioredis';
import * as assert from 'uvu/assert';

const faults = testSuite<{ redisServer?: TestRedis }>('account-system under faults', {});

faults.after.each(async (ctx) => {
  await ctx.redisServer?.dispose();
  ctx.redisServer = undefined;
});

const registration = (account: string) =>
  encodeEvent(accountEvents, accountRegistered({ account, url: `http://${account}`, instance: 'test' }));

async function startService(redisUrl: string) {
  const service = spawnNode('packages/account-system/src/main.ts', { env: { REDIS_URL: redisUrl, PORT: '0' } });
  const port = await service.port();
  const get = async (path: string) => {
    const response = await fetch(`http://127.0.0.1:${port}${path}`);
    return { status: response.status, body: await response.text() };
  };
  return { service, get };
}

/** The most memory the process has held (VmHWM), in MiB. */
function peakMemoryMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1]) / 1024;
}

faults(
  'three 50 MB entries: replayed within a bounded memory, skipped for their size, the rest applied',
  async (ctx) => {
    ctx.redisServer = await startTestRedis();
    const redis = new Redis(ctx.redisServer.url);
    const stream = streamKey('accounts');
    await redis.xadd(stream, '*', ...registration('john-account'));
    for (let i = 0; i < 3; i++) {
      await redis.xadd(stream, '*', 'type', 'AccountRegistered', 'v', '1', 'data', 'x'.repeat(50 * 1024 * 1024));
    }
    await redis.xadd(stream, '*', ...registration('mary-account'));
    redis.disconnect();
    const { service, get } = await startService(ctx.redisServer.url);
    try {
      await service.logged('caught up; ready', 30_000);
      assert.is((await get('/accounts')).body, '{"accounts":["john-account","mary-account"]}');
      assert.match((await get('/metrics')).body, /microbank_projection_skipped_entries_total\{[^}]*\} 3\n/);
      // The entries alone are 150 MiB; unbounded, the replay held over 340 MiB (the image's bundle).
      const peak = peakMemoryMiB(service.pid);
      assert.ok(peak < 200, `peak memory ${Math.round(peak)} MiB`);
    } finally {
      await service.stop();
    }
  },
);

faults('started while Redis is away: not ready, no crash, ready by itself once Redis comes up', async (ctx) => {
  const redisPort = await portForLater();
  const { service, get } = await startService(`redis://127.0.0.1:${redisPort}`);
  try {
    await service.logged('redis connection lost, reconnecting');
    assert.is((await get('/readyz')).status, 503);
    assert.is((await get('/accounts')).status, 503);
    assert.is((await get('/healthz')).status, 200, 'alive while not ready');

    ctx.redisServer = await startTestRedis({ port: redisPort });
    const redis = new Redis(ctx.redisServer.url);
    const id = await redis.xadd(streamKey('accounts'), '*', ...registration('john-account'));
    redis.disconnect();
    await waitFor(
      'account-system to be ready',
      () => get('/readyz'),
      (reply) => reply.status === 200,
      { timeoutMs: 10_000 },
    );
    // Ready may come before the registration is read (caught up to an empty stream first): ask
    // for the answer that reflects it, as a client reading its own write does.
    assert.is((await get(`/accounts?position=${id}`)).body, '{"accounts":["john-account"]}');
    assert.is(service.child.exitCode, null);
  } finally {
    service.child.kill('SIGTERM');
    await service.exited;
  }
});

faults(
  'Redis back with an empty volume: the service says so and serves what the stream holds now, not stale accounts',
  async (ctx) => {
    ctx.redisServer = await startTestRedis();
    const redis = new Redis(ctx.redisServer.url);
    await redis.xadd(streamKey('accounts'), '*', ...registration('john-account'));
    redis.disconnect();
    const { service, get } = await startService(ctx.redisServer.url);
    try {
      await waitFor(
        'ready',
        () => get('/readyz'),
        (reply) => reply.status === 200,
      );
      await ctx.redisServer.kill();
      rmSync(ctx.redisServer.dataDir, { recursive: true, force: true });
      await ctx.redisServer.restart();

      const logged = await service.logged(/a stream lost entries this projection applied/, 10_000);
      assert.is(logged.level, 'error');
      await waitFor(
        'the registry rebuilt from the empty stream',
        () => get('/accounts'),
        (reply) => reply.status === 200 && reply.body === '{"accounts":[]}',
        { timeoutMs: 10_000 },
      );
      assert.match((await get('/metrics')).body, /microbank_projection_diverged\{[^}]*\} 0/);
    } finally {
      service.child.kill('SIGTERM');
      await service.exited;
    }
  },
);

faults(
  'paused (SIGSTOP) while Redis lost its data and took a registration: once resumed, it serves exactly what the stream holds',
  async (ctx) => {
    ctx.redisServer = await startTestRedis();
    const stream = streamKey('accounts');
    const redis = new Redis(ctx.redisServer.url);
    const before = redis.pipeline();
    for (let i = 0; i < 50; i++) before.xadd(stream, '*', ...registration(`old-${i}`));
    await before.exec();
    redis.disconnect();
    const { service, get } = await startService(ctx.redisServer.url);
    const accountsServed = async () => {
      const reply = await get('/accounts');
      return reply.status === 200 ? (JSON.parse(reply.body) as { accounts: string[] }).accounts : reply.status;
    };
    try {
      await waitFor(
        'the 50 accounts served',
        accountsServed,
        (accounts) => Array.isArray(accounts) && accounts.length === 50,
        { timeoutMs: 20_000 },
      );
      // Frozen as a SIGSTOPped pod is: it sees nothing of what follows until it runs again, and
      // the registration lands before it can reconnect.
      service.child.kill('SIGSTOP');
      try {
        await ctx.redisServer.kill();
        rmSync(ctx.redisServer.dataDir, { recursive: true, force: true });
        await ctx.redisServer.restart();
        const writer = new Redis(ctx.redisServer.url);
        await writer.xadd(stream, '*', ...registration('eve-account'));
        writer.disconnect();
      } finally {
        service.child.kill('SIGCONT');
      }
      await waitFor(
        'only what the stream holds served',
        accountsServed,
        (accounts) => Array.isArray(accounts) && accounts.join() === 'eve-account',
        { timeoutMs: 20_000 },
      );
      assert.is((await service.logged(/a stream lost entries this projection applied/)).level, 'error');
      // It tails the stream on from there.
      const writer = new Redis(ctx.redisServer.url);
      const next = await writer.xadd(stream, '*', ...registration('mary-account'));
      writer.disconnect();
      assert.is((await get(`/accounts?position=${next}`)).body, '{"accounts":["eve-account","mary-account"]}');
    } finally {
      service.child.kill('SIGCONT');
      service.child.kill('SIGTERM');
      await service.exited;
    }
  },
);

faults('poison written by hand is skipped, logged, counted in /metrics, and what follows is applied', async (ctx) => {
  ctx.redisServer = await startTestRedis();
  const { service, get } = await startService(ctx.redisServer.url);
  const redis = new Redis(ctx.redisServer.url);
  const stream = streamKey('accounts');
  const poison: string[][] = [
    ['type', 'AccountRegistered'],
    ['type', 'AccountRegistered', 'v', '1', 'data', '{"account":'],
    ['type', 'AccountOpened', 'v', '1', 'data', '{}'],
    ['type', 'AccountRegistered', 'v', '2', 'data', '{}'],
    ['type', 'AccountRegistered', 'v', '1', 'data', 'x'.repeat(1024 * 1024)],
    ['type', 'AccountRegistered', 'v', '1', 'data', '42'],
    ['type', 'AccountRegistered', 'v', '1.0', 'data', '{}'],
    [
      'type',
      'AccountRegistered',
      'v',
      '1',
      'data',
      '{"account":["john"],"url":7,"instance":null,"registeredAt":false}',
    ],
  ];
  try {
    await waitFor(
      'ready',
      () => get('/readyz'),
      (reply) => reply.status === 200,
    );
    await redis.xadd(stream, '*', ...registration('john-account'));
    for (const fields of poison) await redis.xadd(stream, '*', ...fields);
    const last = await redis.xadd(stream, '*', ...registration('mary-account'));
    const accounts = await get(`/accounts?position=${last}`);
    assert.is(accounts.body, '{"accounts":["john-account","mary-account"]}');
    const metrics = (await get('/metrics')).body;
    assert.match(metrics, new RegExp(`microbank_projection_skipped_entries_total\\{[^}]*\\} ${poison.length}\\n`));
    assert.match(metrics, /microbank_projection_applied_entries_total\{[^}]*\} 2\n/);
    const skippedLines = service.lines.filter((line) => line.includes('"msg":"skipped stream entry"'));
    assert.is(skippedLines.length, poison.length, 'each poison entry logged once');
    assert.ok(
      skippedLines.every((line) => line.length < 1000),
      'a 1 MiB entry does not make a 1 MiB log line',
    );
  } finally {
    redis.disconnect();
    service.child.kill('SIGTERM');
    await service.exited;
  }
});

faults('SIGTERM under load: every request under way gets its answer, then exit 0', async (ctx) => {
  ctx.redisServer = await startTestRedis();
  const service = spawnNode('packages/account-system/src/main.ts', {
    env: {
      REDIS_URL: ctx.redisServer.url,
      PORT: '0',
      READ_WAIT_MAX_MS: '1000',
    },
  });
  const port = await service.port();
  await service.logged('caught up; ready');
  const base = `http://127.0.0.1:${port}`;
  const send = (path: string) =>
    fetch(`${base}${path}`).then(
      (response) => response.status,
      (error: Error) => `failed: ${error.message}`,
    );
  // 50 reads wait for a position nobody writes (answered 503 after 1 s); then 50 that answer at once.
  const waiting = Array.from({ length: 50 }, () => send('/accounts?position=99999999999999-0'));
  let answeredAtOnce = 0;
  const immediate = Array.from({ length: 50 }, () =>
    send('/accounts').then((status) => {
      answeredAtOnce++;
      return status;
    }),
  );
  await waitFor(
    'the immediate reads to be answered',
    () => answeredAtOnce,
    (n) => n === 50,
  );
  const inFlight = [...waiting, ...immediate];
  service.child.kill('SIGTERM');
  const statuses = await Promise.all(inFlight);
  assert.ok(
    statuses.every((status) => status === 200 || status === 503),
    `every request answered: ${[...new Set(statuses)].join(', ')}`,
  );
  assert.ok(statuses.includes(503), 'waiting requests were under way at SIGTERM');
  assert.equal(await service.exited, { code: 0, signal: null });
});

faults('SIGTERM while a client holds a half-sent request: drained, closed, stop hooks run, exit 0', async (ctx) => {
  ctx.redisServer = await startTestRedis();
  const service = spawnNode('packages/account-system/src/main.ts', {
    env: { REDIS_URL: ctx.redisServer.url, PORT: '0', SHUTDOWN_DRAIN_MS: '1000' },
  });
  const port = await service.port();
  await service.logged('caught up; ready');
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  socket.on('error', () => {});
  // Headers and part of a body it promises to finish, and never does.
  socket.write('GET /accounts HTTP/1.1\r\nHost: x\r\nX-Half: ');
  await new Promise((resolve) => setTimeout(resolve, 200));
  const stoppedAt = Date.now();
  service.child.kill('SIGTERM');
  const exit = await service.exited;
  assert.equal(exit, { code: 0, signal: null });
  // The drain (1 s), not the grace period (over 10 s), decided when it ended.
  assert.ok(Date.now() - stoppedAt < 8_000, `exited after ${Date.now() - stoppedAt} ms`);
  await service.logged('closing connections still open after the drain');
  await service.logged('stopped');
  socket.destroy();
});

faults('SIGTERM in a burst of 1,000 requests: with a pause before closing, none is reset', async (ctx) => {
  ctx.redisServer = await startTestRedis();
  const service = spawnNode('packages/account-system/src/main.ts', {
    env: { REDIS_URL: ctx.redisServer.url, PORT: '0', SHUTDOWN_DELAY_MS: '2000' },
  });
  const port = await service.port();
  await service.logged('caught up; ready');
  const ask = () =>
    new Promise<string>((resolve) => {
      const request = http.get({ host: '127.0.0.1', port, path: '/accounts', agent: false }, (response) => {
        response.resume();
        response.on('end', () => resolve(String(response.statusCode)));
      });
      request.on('error', (error) => resolve(error.message));
    });
  const answers = Array.from({ length: 1_000 }, ask);
  service.child.kill('SIGTERM');
  const outcomes = await Promise.all(answers);
  const failed = outcomes.filter((outcome) => outcome !== '200');
  assert.equal(failed.length, 0, `${failed.length} of 1000 not answered: ${[...new Set(failed)].join(', ')}`);
  assert.equal(await service.exited, { code: 0, signal: null });
});

faults.run();
