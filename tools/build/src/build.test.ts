import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnNode, startTestRedis, testSuite } from '@microbank/testing';
import * as assert from 'uvu/assert';
import { buildServices, SERVICES } from './build.ts';

const bundles = testSuite('build');

bundles('each service builds into one bundle that runs with Node alone', async () => {
  const outdir = mkdtempSync(join(tmpdir(), 'microbank-build-'));
  const redis = await startTestRedis();
  try {
    const outputs = await buildServices(outdir);
    assert.is(outputs.length, SERVICES.length);
    // The dashboard's page is built beside its bundle, small and whole.
    const assets = join(outdir, 'dashboard', 'assets');
    const weight = ['index.html', 'app.js', 'app.css'].reduce(
      (sum, file) => sum + statSync(join(assets, file)).size,
      0,
    );
    assert.ok(weight < 300 * 1024, `the page weighs ${weight} bytes`);
    // Each bundle's Lua scripts sit beside it.
    assert.ok(existsSync(join(outdir, 'transfer', 'scripts', 'debit-3.lua')));
    // The bundle runs outside the workspace: no node_modules next to it.
    const service = spawnNode(join(outdir, 'account-system', 'main.mjs'), { env: { REDIS_URL: redis.url, PORT: '0' } });
    const port = await service.port();
    await service.logged('caught up; ready');
    assert.is(await (await fetch(`http://127.0.0.1:${port}/accounts`)).text(), '{"accounts":[]}');
    service.child.kill('SIGTERM');
    assert.equal(await service.exited, { code: 0, signal: null });
  } finally {
    await redis.dispose();
    rmSync(outdir, { recursive: true, force: true });
  }
});

bundles.run();
