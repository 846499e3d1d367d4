/** The cluster scripts (tools/k8s/scripts/*.sh) and the chaos monkey's script, run against a fake kubectl. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { REPO_ROOT as repoRoot, testSuite } from '@microbank/testing';
import * as assert from 'uvu/assert';
import { renderKustomization } from './index.ts';

/** The manifests (kustomize), at the repository's root. */
const k8sDir = join(repoRoot, 'k8s');
/** A script of tools/k8s/scripts/, beside this package's src/. */
const script = (name: string) => fileURLToPath(new URL(`../scripts/${name}`, import.meta.url));

/**
 * A kubectl stand-in: it logs every call (one line of NUL-free, tab-joined arguments) and answers
 * `get <type>` with the file get-<type>.<n> for its n-th such call (the last file repeats).
 */
const FAKE_KUBECTL = `#!/usr/bin/env bash
set -euo pipefail
(IFS=$'\\t'; echo "$*") >> "$FAKE_DIR/calls"
case "$1" in
  get)
    type=$2
    n=$(( $(cat "$FAKE_DIR/count-$type" 2>/dev/null || echo 0) + 1 ))
    echo "$n" > "$FAKE_DIR/count-$type"
    while [ "$n" -gt 0 ] && [ ! -f "$FAKE_DIR/get-$type.$n" ]; do n=$((n - 1)); done
    [ "$n" -gt 0 ] || { echo "fake kubectl: no answer for get $type" >&2; exit 1; }
    cat "$FAKE_DIR/get-$type.$n"
    ;;
  delete) echo "pod \\"\${*: -1}\\" deleted (fake)" ;;
  *) echo "fake kubectl: $1 ok" ;;
esac
`;

/** A directory with the fake kubectl: `answer` its n-th `get <type>`, read its `calls`, `run` a command against it. */
function fakeKubectl() {
  const dir = mkdtempSync(join(tmpdir(), 'microbank-fake-kubectl-'));
  writeFileSync(join(dir, 'kubectl'), FAKE_KUBECTL, { mode: 0o755 });
  const calls = join(dir, 'calls');
  return {
    dir,
    /** The answers to the 1st, 2nd... `get <type>` (the last repeats). */
    answer: (type: string, ...texts: string[]) => {
      rmSync(join(dir, `count-${type}`), { force: true });
      for (const [i, text] of texts.entries()) writeFileSync(join(dir, `get-${type}.${i + 1}`), text);
    },
    calls: (): string[][] =>
      (existsSync(calls) ? readFileSync(calls, 'utf8').split('\n').filter(Boolean) : []).map((l) => l.split('\t')),
    clearCalls: () => rmSync(calls, { force: true }),
    run: (command: string, args: string[], extraEnv: Record<string, string> = {}) => {
      const env = { ...process.env, PATH: `${dir}:${process.env.PATH}`, FAKE_DIR: dir, ...extraEnv };
      return spawnSync(command, args, { encoding: 'utf8', timeout: 20_000, stdio: ['ignore', 'pipe', 'pipe'], env });
    },
  };
}
type Fake = ReturnType<typeof fakeKubectl>;

/** A suite whose tests each get a fake kubectl of their own, removed afterwards. */
function suiteWithFake(name: string) {
  const suite = testSuite(name);
  const withFake = (title: string, test: (fake: Fake) => void) =>
    suite(title, () => {
      const fake = fakeKubectl();
      try {
        test(fake);
      } finally {
        rmSync(fake.dir, { recursive: true, force: true });
      }
    });
  return Object.assign(withFake, { run: suite.run });
}

const usage = suiteWithFake('tools/k8s/scripts: syntax and usage');

usage('every script parses (bash -n)', () => {
  for (const name of ['deploy.sh', 'kill-pod.sh', 'streams.sh']) {
    const result = spawnSync('bash', ['-n', script(name)], { encoding: 'utf8' });
    assert.is(result.status, 0, `${name}: ${result.stderr}`);
  }
});

usage('bad arguments print the usage and exit 2 without calling kubectl', (fake) => {
  const bad = ['kill-pod.sh', 'kill-pod.sh accountsystem', 'kill-pod.sh redis balance', 'deploy.sh --now'];
  bad.push('streams.sh drop', 'streams.sh range a b', 'streams.sh cli');
  for (const line of bad) {
    const [name, ...args] = line.split(' ');
    const result = fake.run('bash', [script(name as string), ...args]);
    assert.is(result.status, 2, line);
    assert.match(result.stderr, /^usage: /m, line);
  }
  assert.equal(fake.calls(), []);
});

usage('the root package.json runs the scripts and the checker', () => {
  const scripts = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')).scripts as Record<string, string>;
  assert.is(scripts['k8s:check'], 'node --import tsx tools/k8s/src/main.ts');
  for (const name of ['deploy', 'kill-pod', 'streams'])
    assert.is(scripts[`k8s:${name}`], `bash tools/k8s/scripts/${name}.sh`);
});
usage('the scripts address what k8s/ (the dev overlay) deploys: namespace, components, Redis, NodePorts', () => {
  // biome-ignore lint/suspicious/noExplicitAny: rendered objects, read by path
  const objects = renderKustomization(k8sDir) as Record<string, any>[];
  const read = (name: string) => readFileSync(script(name), 'utf8');
  for (const name of ['deploy.sh', 'kill-pod.sh', 'streams.sh'])
    assert.match(read(name), /^namespace=microbank$/m, name);
  assert.ok(objects.every((o) => o.metadata.namespace === 'microbank'));
  // deploy.sh applies $root/k8s/namespace, then $root/k8s: the root kustomization, which is the dev overlay and
  // nothing else.
  assert.match(read('deploy.sh'), /^kubectl apply -k "\$root\/k8s\/namespace"\nkubectl apply -k "\$root\/k8s"$/m);
  assert.match(readFileSync(join(k8sDir, 'kustomization.yaml'), 'utf8'), /^resources:\n {2}- overlays\/dev\n*$/m);
  const nodePorts = objects.filter((o) => o.spec?.type === 'NodePort');
  assert.ok(nodePorts.length > 0, 'deploy.sh lists NodePorts');
  // kill-pod.sh selects each component by part-of and name: a pod template of the render has both.
  const components = /^components="([^"]+)"$/m.exec(read('kill-pod.sh'))?.[1]?.split(' ') ?? [];
  assert.ok(components.length >= 5, components.join(' '));
  const selected = (labels: Record<string, string> | undefined, component: string) =>
    labels?.['app.kubernetes.io/part-of'] === 'microbank' && labels['app.kubernetes.io/name'] === component;
  for (const component of components)
    assert.is(objects.filter((o) => selected(o.spec?.template?.metadata?.labels, component)).length, 1, component);
  // streams.sh execs into statefulset/microbank-redis, container redis.
  const redis = objects.find((o) => o.kind === 'StatefulSet' && o.metadata.name === 'microbank-redis');
  assert.ok(redis?.spec.template.spec.containers.some((c: { name: string }) => c.name === 'redis'));
});
usage.run();

const killPod = suiteWithFake('tools/k8s/scripts/kill-pod.sh');

/** A pod line as kill-pod.sh asks for it: uid|name|Ready|deletionTimestamp (set: terminating). */
const pod = (uid: string, name: string, ready = true, leaving = false) =>
  `${uid}|microbank-${name}|${ready ? 'True' : 'False'}|${leaving ? '2026-01-03T11:36:07Z' : ''}\n`;
const kill = (fake: Fake, component: string, env: Record<string, string> = { KILL_POD_POLL_SECONDS: '0' }) =>
  fake.run('bash', [script('kill-pod.sh'), component], env);
const verbs = (fake: Fake, verb: string) => fake.calls().filter((c) => c[0] === verb);
/** The third argument of each call of that verb: the pod deleted, the workload rolled out. */
const objectsOf = (fake: Fake, verb: string) => verbs(fake, verb).map((c) => c[2]);

killPod('deletes the pod by label and returns once a new pod is Ready, not the terminating one', (fake) => {
  const [old, next] = ['account-system-5d9f-x2x', 'account-system-5d9f-k7q'];
  // Right after the delete: the old pod terminating (still Ready), its replacement starting.
  fake.answer('pods', pod('u1', old), pod('u1', old, true, true) + pod('u2', next, false), pod('u2', next));
  const result = kill(fake, 'account-system');
  assert.is(result.status, 0, result.stderr);
  assert.match(result.stdout, /^Found microbank-account-system-5d9f-x2x$/m);
  assert.match(result.stdout, /^Replacement microbank-account-system-5d9f-k7q is Ready$/m);
  const [get, del] = fake.calls();
  const selector = 'app.kubernetes.io/part-of=microbank,app.kubernetes.io/name=account-system';
  assert.equal(get?.slice(0, 6), ['get', 'pods', '--namespace', 'microbank', '--selector', selector]);
  assert.equal(del, ['delete', 'pod', `microbank-${old}`, '--namespace', 'microbank', '--wait=false']);
  assert.is(verbs(fake, 'get').length, 3, 'it must keep polling past the terminating pod');
});

killPod('tells the StatefulSet pod from its same-named replacement by uid', (fake) => {
  const [old, next] = [pod('old', 'redis-0'), pod('new', 'redis-0')];
  fake.answer('pods', old, pod('old', 'redis-0', true, true), pod('new', 'redis-0', false), next);
  const result = kill(fake, 'redis');
  assert.is(result.status, 0, result.stderr);
  assert.match(result.stdout, /Replacement microbank-redis-0 is Ready/);
  assert.is(verbs(fake, 'get').length, 4);
});

killPod('deletes one replica of a component that has two, and waits for a new pod, not the one left', (fake) => {
  const [a, b, c] = ['a', 'b', 'c'].map((x) => `transfer-7c4-${x}`) as [string, string, string];
  const [live, leaving] = [pod('u1', a) + pod('u2', b), pod('u1', a, true, true) + pod('u2', b)];
  fake.answer('pods', live, leaving, pod('u2', b) + pod('u3', c));
  const result = kill(fake, 'transfer');
  assert.is(result.status, 0, result.stderr);
  assert.equal(objectsOf(fake, 'delete'), [`microbank-${a}`]);
  assert.match(result.stdout, /^Replacement microbank-transfer-7c4-c is Ready$/m);
  assert.is(verbs(fake, 'get').length, 3, 'the replica left is not a replacement');
});

killPod('right after another kill: leaves the pod already terminating alone and deletes a live one', (fake) => {
  const [a, b, c, d] = ['a', 'b', 'c', 'd'].map((x) => `transfer-7c4-${x}`) as [string, string, string, string];
  fake.answer('pods', pod('u1', a, true, true) + pod('u2', b) + pod('u3', c), pod('u3', c) + pod('u4', d));
  const result = kill(fake, 'transfer');
  assert.is(result.status, 0, result.stderr);
  assert.equal(objectsOf(fake, 'delete'), [`microbank-${b}`]);
  assert.match(result.stdout, /^Replacement microbank-transfer-7c4-d is Ready$/m);

  fake.answer('pods', pod('u1', 'balance-1', true, true));
  const leaving = kill(fake, 'balance');
  assert.is(leaving.status, 1);
  assert.match(leaving.stderr, /Every balance pod is already terminating/);
});

killPod('fails when no pod is found, and when no replacement gets Ready in time', (fake) => {
  fake.answer('pods', '');
  const none = kill(fake, 'balance');
  assert.is(none.status, 1);
  assert.match(none.stderr, /No balance pod in namespace microbank/);

  fake.answer('pods', pod('u1', 'balance-1'), pod('u1', 'balance-1', true, true));
  const stuck = kill(fake, 'balance', { KILL_POD_POLL_SECONDS: '0.2', KILL_POD_TIMEOUT_SECONDS: '1' });
  assert.is(stuck.status, 1);
  assert.match(stuck.stderr, /No Ready replacement for balance within 1s/);
});
killPod.run();

const deploy = suiteWithFake('tools/k8s/scripts/deploy.sh');

deploy('applies k8s/namespace then k8s/, waits for each rollout, prints the NodePorts and "Happy banking!"', (fake) => {
  const deployments = ['account-system', 'balance'].map((name) => `deployment.apps/microbank-${name}`);
  const rollouts = ['statefulset.apps/microbank-redis', ...deployments];
  fake.answer('statefulsets,deployments', `${rollouts.join('\n')}\n`);
  fake.answer('nodes', '172.18.0.2');
  fake.answer('services', 'microbank-account-system 31913\nmicrobank-balance 32635\n');
  const result = fake.run('bash', [script('deploy.sh')]);
  assert.is(result.status, 0, result.stderr);
  assert.equal(fake.calls().slice(0, 2), [
    ['apply', '-k', join(repoRoot, 'k8s', 'namespace')],
    ['apply', '-k', join(repoRoot, 'k8s')],
  ]);
  assert.equal(objectsOf(fake, 'rollout'), rollouts);
  assert.match(result.stdout, /microbank-account-system +http:\/\/172\.18\.0\.2:31913/);
  assert.match(result.stdout, /microbank-balance +http:\/\/172\.18\.0\.2:32635/);
  assert.match(result.stdout, /^Happy banking!$/m);
});
deploy.run();

const streams = suiteWithFake('tools/k8s/scripts/streams.sh');

streams('runs redis-cli in the Redis pod, authenticated by the pod environment, never by argv', (fake) => {
  const exec = 'exec --stdin --namespace microbank statefulset/microbank-redis --container redis -- redis-cli';
  const stream = 'microbank:accounts';
  const expectations = [
    ['', `XRANGE ${stream} - +`],
    ['len', `XLEN ${stream}`],
    ['tail', `XREAD BLOCK 0 STREAMS ${stream} $`],
    [`cli XRANGE ${stream} - + COUNT 5`, `XRANGE ${stream} - + COUNT 5`],
  ];
  for (const [args, redisArgs] of expectations as [string, string][]) {
    fake.clearCalls();
    const result = fake.run('bash', [script('streams.sh'), ...args.split(' ').filter(Boolean)]);
    assert.is(result.status, 0, result.stderr);
    assert.equal(fake.calls(), [`${exec} ${redisArgs}`.split(' ')]);
  }
});
streams.run();

const monkey = suiteWithFake('the chaos monkey script (from the rendered CronJob)');

/** The container's command as the kubelet would run it: $(VAR) expanded from the env, $$ -> $. */
function chaosCommand(): string[] {
  // biome-ignore lint/suspicious/noExplicitAny: a rendered object, read by path
  const cron = renderKustomization(k8sDir).find((o) => o.kind === 'CronJob') as Record<string, any>;
  const c = cron.spec.jobTemplate.spec.template.spec.containers[0];
  const vars = new Map<string, string>([['POD_NAMESPACE', 'microbank']]);
  for (const e of c.env) if (typeof e.value === 'string') vars.set(e.name, e.value);
  return (c.command as string[]).map((arg) =>
    arg.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_]*)\)/g, (m, name?: string) =>
      m === '$$' ? '$' : name && vars.has(name) ? (vars.get(name) as string) : m,
    ),
  );
}

monkey('deletes exactly one running microbank pod, chosen at random, never its own', (fake) => {
  const [shell, ...args] = chaosCommand();
  const pods = ['pod/microbank-account-system-1', 'pod/microbank-balance-1', 'pod/microbank-redis-0'];
  fake.answer('pods', `${pods.join('\n')}\n`);
  const victims = new Set<string>();
  for (let i = 0; i < 30; i++) {
    fake.clearCalls();
    const result = fake.run(shell as string, args, { POD_NAMESPACE: 'microbank', HOME: fake.dir });
    assert.is(result.status, 0, result.stderr);
    const [list, ...deletes] = fake.calls();
    assert.equal(list?.slice(0, 4), ['get', 'pods', '--namespace', 'microbank']);
    const selector = 'app.kubernetes.io/part-of=microbank,app.kubernetes.io/name!=chaos-monkey';
    assert.ok(list?.includes(selector) && list.includes('status.phase=Running'), 'it must exclude itself');
    assert.is(deletes.length, 1, 'exactly one delete per run');
    const [verb, ...rest] = deletes[0] as string[];
    assert.ok(verb === 'delete' && rest.includes('--wait=false'), 'waiting needs get/watch, which the Role lacks');
    assert.ok(pods.includes(rest.at(-1) as string), rest.at(-1));
    victims.add(rest.at(-1) as string);
  }
  assert.ok(victims.size > 1, 'thirty runs always chose the same pod: not random');
});

monkey('with no running microbank pod it deletes nothing and succeeds', (fake) => {
  const [shell, ...args] = chaosCommand();
  fake.answer('pods', '');
  const result = fake.run(shell as string, args, { POD_NAMESPACE: 'microbank', HOME: fake.dir });
  assert.is(result.status, 0, result.stderr);
  assert.match(result.stdout, /no running microbank pod/);
  assert.equal(verbs(fake, 'delete'), []);
});
monkey.run();
