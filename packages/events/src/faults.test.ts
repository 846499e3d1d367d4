/** The event store under crashes: Redis killed while a projection tails, and kills in the middle of appends. */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import {
  closeRedis,
  connectRedis,
  decodeEntry,
  encodeEvent,
  silentLog,
  startProjection,
  untilReady,
} from '@microbank/streams';
import { REPO_ROOT, readStream, redisSuite, uniquePrefix, waitFor } from '@microbank/testing';
import { Redis } from 'ioredis';
import * as assert from 'uvu/assert';
import { accountEvents, accountRegistered } from './account-events.ts';
import { decodeAccountEntry } from './entry-fast-path.ts';
import { streamKey } from './stream-keys.ts';

const faults = redisSuite('event store under crashes', { perTest: true });

const registration = (account: string) =>
  encodeEvent(accountEvents, accountRegistered({ account, url: `http://${account}`, instance: 'test' }));

faults(
  'after Redis is killed and restarted, the tail applies new entries within 1 s of Redis answering',
  async (ctx) => {
    const stream = streamKey('accounts', uniquePrefix());
    const commands = connectRedis(ctx.redisServer.url, 'test:commands', silentLog);
    await untilReady(commands);
    const applied: string[] = [];
    const projection = startProjection({
      name: 'test',
      streams: [stream],
      decode: (_stream, fields) => decodeAccountEntry(fields),
      redis: commands,
      tailRedis: connectRedis(ctx.redisServer.url, 'test:tail', silentLog),
      log: silentLog,
      apply: (_, id) => applied.push(id),
    });
    try {
      await projection.whenReady();
      for (let round = 0; round < 3; round++) {
        await ctx.redisServer.kill();
        await ctx.redisServer.restart(); // resolves once Redis answers PING
        const answering = Date.now();
        const writer = new Redis(ctx.redisServer.url);
        const id = await writer.xadd(stream, '*', ...registration(`after-restart-${round}`));
        writer.disconnect();
        await waitFor(
          `round ${round}: the tail to apply ${id}`,
          () => projection.position,
          (p) => p === id,
          {
            timeoutMs: 1_000 - (Date.now() - answering),
            intervalMs: 5,
          },
        );
      }
      assert.equal(
        applied,
        (await readStream(ctx.redisServer.url, stream)).map(([id]) => id),
        'each entry applied once, none missed',
      );
    } finally {
      await projection.stop();
      await closeRedis(commands);
    }
  },
);

/** A TCP relay to Redis whose open connections can be frozen: a half-dead socket that never errors. */
async function freezableRelay(redisPort: number) {
  const sockets: net.Socket[] = [];
  let opened = 0;
  const server = net.createServer((client) => {
    opened++;
    const upstream = net.connect(redisPort, '127.0.0.1');
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    sockets.push(client, upstream);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as net.AddressInfo).port,
    opened: () => opened,
    freeze() {
      for (const socket of sockets.splice(0)) {
        socket.unpipe();
        socket.pause();
      }
    },
    close() {
      server.close();
    },
  };
}

faults('a tail read on a connection that silently stops answering is abandoned and resumed', async (ctx) => {
  const stream = streamKey('accounts', uniquePrefix());
  const relay = await freezableRelay(ctx.redisServer.port);
  const commands = connectRedis(ctx.redisServer.url, 'test:commands', silentLog);
  await untilReady(commands);
  const tailRedis = connectRedis(`redis://127.0.0.1:${relay.port}`, 'test:tail', silentLog);
  const projection = startProjection({
    name: 'test',
    streams: [stream],
    decode: (_stream, fields) => decodeAccountEntry(fields),
    redis: commands,
    tailRedis,
    log: silentLog,
    apply: () => {},
    blockMs: 300,
  });
  try {
    await projection.whenReady();
    // Round 0 may freeze the connection during its handshake; round 1 freezes a tail read in progress.
    for (let round = 0; round < 2; round++) {
      if (round === 1)
        await waitFor(
          'the tail connection to be ready',
          () => tailRedis.status,
          (s) => s === 'ready',
        );
      const opened = relay.opened();
      relay.freeze();
      const id = await commands.xadd(stream, '*', ...registration(`while-frozen-${round}`));
      await waitFor(
        `round ${round}: the tail to reconnect and apply the entry`,
        () => projection.position,
        (p) => p === id,
        {
          timeoutMs: 15_000,
        },
      );
      assert.ok(relay.opened() > opened, 'the tail opened a new connection');
    }
  } finally {
    await projection.stop();
    await closeRedis(commands);
    relay.close();
  }
});

faults(
  'Redis SIGKILLed during a flood of appends: every acknowledged append is there, every entry whole',
  async (ctx) => {
    const stream = streamKey('accounts', uniquePrefix());
    const writer = new Redis(ctx.redisServer.url, {
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      retryStrategy: () => null,
    });
    writer.on('error', () => {}); // the kill resets its connection: expected
    await untilReady(writer);
    const acknowledged: string[] = [];
    let failed = 0;
    // Waves of concurrent appends, until the kill makes them fail.
    const flood = (async () => {
      for (let wave = 0; failed === 0; wave++) {
        await Promise.all(
          Array.from({ length: 200 }, (_, i) =>
            writer.xadd(stream, '*', ...registration(`flood-${wave}-${i}`)).then(
              (id) => {
                if (id) acknowledged.push(id);
              },
              () => {
                failed++;
              },
            ),
          ),
        );
      }
    })();
    await waitFor(
      'some appends to be acknowledged',
      () => acknowledged.length,
      (n) => n > 1_000,
      { intervalMs: 1 },
    );
    await ctx.redisServer.kill();
    await flood;
    writer.disconnect();
    assert.ok(failed > 0, 'the kill came in the middle of the flood');

    await ctx.redisServer.restart();
    const entries = await readStream(ctx.redisServer.url, stream);
    const present = new Set(entries.map(([id]) => id));
    assert.equal(
      acknowledged.filter((id) => !present.has(id)),
      [],
      'no acknowledged append lost',
    );
    for (const [id, fields] of entries) assert.ok(decodeEntry(accountEvents, fields).ok, `entry ${id} is whole`);
  },
);

faults('a writer SIGKILLed mid-append leaves each registration whole or absent', async (ctx) => {
  const stream = streamKey('accounts', uniquePrefix());
  // A process that appends large registrations as fast as it can, until it is killed. The padding
  // rides in a field the schema does not know (readers ignore it), to make each write long.
  const script = `
    import { Redis } from 'ioredis';
    const redis = new Redis(process.env.REDIS_URL);
    const pad = 'x'.repeat(60_000);
    for (let i = 0; ; i++) {
      const data = JSON.stringify({ account: 'writer-' + i, url: 'http://writer', instance: 'writer', registeredAt: new Date().toISOString(), pad });
      redis.xadd(process.env.STREAM, '*', 'type', 'AccountRegistered', 'v', '1', 'data', data);
      if (i % 50 === 0) { await redis.ping(); if (i === 0) console.log('writing'); }
    }`;
  for (let round = 0; round < 3; round++) {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      cwd: `${REPO_ROOT}/packages/events`,
      env: { ...process.env, REDIS_URL: ctx.redisServer.url, STREAM: stream },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = once(child, 'exit');
    const started = await Promise.race([once(child.stdout, 'data').then(() => true), exited.then(() => false)]);
    assert.ok(started, 'the writer started');
    const before = (await readStream(ctx.redisServer.url, stream)).length;
    await waitFor(
      'the writer to append',
      async () => (await readStream(ctx.redisServer.url, stream)).length,
      (n) => n > before,
    );
    child.kill('SIGKILL');
    await exited;
  }
  const entries = await readStream(ctx.redisServer.url, stream);
  assert.ok(entries.length > 0);
  for (const [id, fields] of entries) {
    const decoded = decodeEntry(accountEvents, fields);
    assert.ok(decoded.ok, `entry ${id}: ${decoded.ok ? '' : decoded.reason}`);
    const data = fields[fields.indexOf('data') + 1] ?? '';
    assert.is((JSON.parse(data) as { pad: string }).pad.length, 60_000, `entry ${id} is whole`);
  }
});

faults.run();
