import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnNode, startTestRedis, testSuite } from '@microbank/testing';
import * as assert from 'uvu/assert';
import { buildServices } from './build.ts';

const bundles = testSuite('build');

bundles('each service builds into one bundle that runs with Node alone', async () => {
  const outdir = mkdtempSync(join(tmpdir(), 'microbank-build-'));
  const redis = await startTestRedis();
  try {
    const outputs = await buildServices(outdir);
    assert.is(outputs.length, 3);
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
