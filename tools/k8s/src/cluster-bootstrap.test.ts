/**
 * The cluster overlay's Redis configuration and bootstrap script, run for real on six local redis-server nodes: the
 * configuration starts, the script forms three primaries with one replica each, and running it again changes nothing.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, REPO_ROOT, testSuite, waitFor } from '@microbank/testing';
import * as assert from 'uvu/assert';

const overlay = join(REPO_ROOT, 'k8s', 'overlays', 'cluster');
const PASSWORD = 'bootstrap-test';
const cli = (port: number, ...args: string[]) =>
  spawnSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8', env: { REDISCLI_AUTH: PASSWORD } }).stdout;
/** The script as the Job runs it, with these nodes. */
const bootstrap = (ports: number[]) =>
  spawnSync('sh', [join(overlay, 'bootstrap.sh')], {
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH,
      NODES: ports.map((p) => `127.0.0.1:${p}`).join(' '),
      REDISCLI_AUTH: PASSWORD,
      WAIT_SECONDS: '20',
    },
  });
/** Who is who in the cluster: each node's ID, role, primary and slots (not its timers or link state). */
const topology = (port: number) =>
  cli(port, 'cluster', 'nodes')
    .trim()
    .split('\n')
    .map((line) => line.split(' '))
    .map(([id, , flags, primary, , , epoch, , ...slots]) => [id, flags, primary, epoch, ...slots].join(' '))
    .sort();

const context = { dir: '', ports: [] as number[], servers: [] as ChildProcess[] };
const bootstrapped = testSuite('k8s: the cluster overlay, its redis.conf and bootstrap.sh on six local nodes', context);

/** A node as the StatefulSet starts it: the overlay's redis.conf, and on stdin what the pod adds. */
async function startNode(i: number): Promise<number> {
  const port = await freePort();
  const dir = join(context.dir, `node-${i}`);
  mkdirSync(dir);
  const conf = readFileSync(join(overlay, 'redis.conf'), 'utf8')
    .replace(/^dir \/data$/m, `dir ${dir}`)
    .replace('/etc/redis/maxmemory.conf', join(overlay, 'maxmemory.conf'));
  writeFileSync(join(dir, 'redis.conf'), conf);
  const server = spawn('redis-server', [join(dir, 'redis.conf'), '-'], { stdio: ['pipe', 'ignore', 'inherit'] });
  server.stdin?.end(
    `port ${port}\nrequirepass ${PASSWORD}\nmasterauth ${PASSWORD}\ncluster-announce-hostname node-${i}\n`,
  );
  context.servers.push(server);
  await waitFor(
    `node ${i} answers`,
    () => cli(port, 'ping').trim(),
    (answer) => answer === 'PONG',
  );
  return port;
}

bootstrapped.before(async () => {
  context.dir = mkdtempSync(join(tmpdir(), 'microbank-cluster-bootstrap-'));
  for (let i = 0; i < 6; i++) context.ports.push(await startNode(i));
});
bootstrapped.after(() => {
  for (const server of context.servers) server.kill('SIGKILL');
  rmSync(context.dir, { recursive: true, force: true });
});

bootstrapped('the configuration is the contract: what redis.conf says is what the running node has', () => {
  const [port = 0] = context.ports;
  const settings = {
    'cluster-enabled': 'yes',
    'cluster-node-timeout': '5000',
    'cluster-require-full-coverage': 'yes',
    'cluster-allow-reads-when-down': 'no',
    'cluster-preferred-endpoint-type': 'hostname',
    'cluster-announce-hostname': 'node-0',
    appendonly: 'yes',
    appendfsync: 'always',
    'min-replicas-to-write': '1',
    'min-replicas-max-lag': '10',
    maxmemory: String(192 * 1024 * 1024),
    'maxmemory-policy': 'noeviction',
  };
  for (const [name, value] of Object.entries(settings))
    assert.equal(cli(port, 'config', 'get', name).trim().split('\n'), [name, value], name);
});

bootstrapped('bootstrap forms 3 primaries with a replica each; run again it changes nothing', () => {
  const first = bootstrap(context.ports);
  assert.is(first.status, 0, first.stdout + first.stderr);
  assert.match(
    first.stdout,
    /^bootstrap: the cluster is formed: 6 nodes, 3 of them linked replicas, cluster_state ok$/m,
  );
  const [port = 0] = context.ports;
  const formed = topology(port);
  assert.is(formed.filter((n) => /\bmaster\b/.test(n)).length, 3, formed.join('\n'));
  assert.is(formed.filter((n) => /\bslave\b/.test(n)).length, 3, formed.join('\n'));
  // Clients are sent to nodes by the names they announce, not by address.
  assert.match(cli(port, 'cluster', 'slots'), /^node-\d$/m);
  // Each primary takes a write at once (no NOREPLICAS): its replica is linked (min-replicas-to-write 1). One key in
  // each primary's slots (slots 4208, 10563, 13381); exactly one node answers OK, the others MOVED.
  for (const key of ['{mary-account}', '{john-account}', 'microbank:accounts']) {
    const replies = context.ports.map((p) => cli(p, 'set', key, '1').trim().split(' ')[0]);
    assert.equal(
      replies.filter((r) => r !== 'MOVED'),
      ['OK'],
      `${key}: ${replies.join(' ')}`,
    );
  }
  const again = bootstrap(context.ports);
  assert.is(again.status, 0, again.stderr);
  assert.match(again.stdout, /^bootstrap: the cluster is formed already: nothing done$/m);
  assert.equal(topology(port), formed);
});

bootstrapped('a node that is empty beside a formed cluster is left alone, and so is the cluster', async () => {
  const formed = topology(context.ports[0] ?? 0);
  const stranger = await startNode(6);
  const run = bootstrap([...context.ports, stranger]);
  assert.is(run.status, 1);
  assert.match(run.stderr, /1 of 7 nodes are empty, the others belong to a cluster: nothing done/);
  assert.equal(topology(context.ports[0] ?? 0), formed);
  assert.is(cli(stranger, 'cluster', 'info').match(/cluster_known_nodes:(\d+)/)?.[1], '1');
});
bootstrapped.run();
