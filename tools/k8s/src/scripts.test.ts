/** The cluster scripts (tools/k8s/scripts/*.sh) and the chaos monkey's script, run against a fake kubectl. */
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

interface Fake {
  dir: string;
  answer(type: string, n: number, text: string): void;
  calls(): string[][];
  run(
    command: string,
    args: string[],
    extraEnv?: Record<string, string>,
  ): { status: number | null; stdout: string; stderr: string };
  dispose(): void;
}

function fakeKubectl(): Fake {
  const dir = mkdtempSync(join(tmpdir(), 'microbank-fake-kubectl-'));
  writeFileSync(join(dir, 'kubectl'), FAKE_KUBECTL);
  chmodSync(join(dir, 'kubectl'), 0o755);
  return {
    dir,
    answer: (type, n, text) => writeFileSync(join(dir, `get-${type}.${n}`), text),
    calls: () => {
      try {
        return readFileSync(join(dir, 'calls'), 'utf8')
          .trimEnd()
          .split('\n')
          .filter(Boolean)
          .map((line) => line.split('\t'));
      } catch {
        return [];
      }
    },
    run: (command, args, extraEnv = {}) => {
      const result = spawnSync(command, args, {
        encoding: 'utf8',
        timeout: 20_000,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, PATH: `${dir}:${process.env.PATH}`, FAKE_DIR: dir, ...extraEnv },
      });
      return { status: result.status, stdout: result.stdout, stderr: result.stderr };
    },
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}

function withFake(test: (fake: Fake) => void): () => void {
  return () => {
    const fake = fakeKubectl();
    try {
      test(fake);
    } finally {
      fake.dispose();
    }
  };
}

// ---------------------------------------------------------------------------------------------
const usage = testSuite('tools/k8s/scripts: syntax and usage');

usage('every script parses (bash -n)', () => {
  for (const name of ['deploy.sh', 'kill-pod.sh', 'streams.sh']) {
    const result = spawnSync('bash', ['-n', script(name)], { encoding: 'utf8' });
    assert.is(result.status, 0, `${name}: ${result.stderr}`);
  }
});

usage(
  'bad arguments print the usage and exit 2 without calling kubectl',
  withFake((fake) => {
    const bad: [string, string[]][] = [
      ['kill-pod.sh', []],
      ['kill-pod.sh', ['accountsystem']],
      ['kill-pod.sh', ['redis', 'balance']],
      ['deploy.sh', ['--now']],
      ['streams.sh', ['drop']],
      ['streams.sh', ['range', 'a', 'b']],
      ['streams.sh', ['cli']],
    ];
    for (const [name, args] of bad) {
      const result = fake.run('bash', [script(name), ...args]);
      assert.is(result.status, 2, `${name} ${args.join(' ')}`);
      assert.match(result.stderr, /^usage: /m, `${name} ${args.join(' ')}`);
    }
    assert.equal(fake.calls(), []);
  }),
);

usage('the root package.json runs the scripts and the checker', () => {
  const scripts = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')).scripts as Record<string, string>;
  assert.is(scripts['k8s:check'], 'node --import tsx tools/k8s/src/main.ts');
  assert.is(scripts['k8s:deploy'], 'bash tools/k8s/scripts/deploy.sh');
  assert.is(scripts['k8s:kill-pod'], 'bash tools/k8s/scripts/kill-pod.sh');
  assert.is(scripts['k8s:streams'], 'bash tools/k8s/scripts/streams.sh');
});
usage('the scripts address what k8s/ (the dev overlay) deploys: namespace, components, Redis, NodePorts', () => {
  // biome-ignore lint/suspicious/noExplicitAny: rendered objects, read by path
  const objects = renderKustomization(k8sDir) as Record<string, any>[];
  const read = (name: string) => readFileSync(script(name), 'utf8');
  for (const name of ['deploy.sh', 'kill-pod.sh', 'streams.sh'])
    assert.match(read(name), /^namespace=microbank$/m, name);
  assert.ok(objects.every((o) => o.kind === 'Namespace' || o.metadata.namespace === 'microbank'));
  // deploy.sh applies $root/k8s: the root kustomization, which is the dev overlay and nothing else.
  assert.match(read('deploy.sh'), /^kubectl apply -k "\$root\/k8s"$/m);
  assert.match(readFileSync(join(k8sDir, 'kustomization.yaml'), 'utf8'), /^resources:\n {2}- overlays\/dev\n*$/m);
  assert.ok(
    objects.some((o) => o.kind === 'Service' && o.spec.type === 'NodePort'),
    'deploy.sh lists NodePorts',
  );
  // kill-pod.sh selects each component by part-of and name: a pod template of the render has both.
  const components = /^components="([^"]+)"$/m.exec(read('kill-pod.sh'))?.[1]?.split(' ') ?? [];
  assert.ok(components.length >= 5, components.join(' '));
  for (const component of components) {
    const pods = objects.filter((o) => {
      const labels = o.spec?.template?.metadata?.labels ?? {};
      return labels['app.kubernetes.io/part-of'] === 'microbank' && labels['app.kubernetes.io/name'] === component;
    });
    assert.is(pods.length, 1, `kill-pod.sh ${component}`);
  }
  // streams.sh execs into statefulset/microbank-redis, container redis.
  const redis = objects.find((o) => o.kind === 'StatefulSet' && o.metadata.name === 'microbank-redis');
  assert.ok(redis?.spec.template.spec.containers.some((c: { name: string }) => c.name === 'redis'));
});
usage.run();

// ---------------------------------------------------------------------------------------------
const killPod = testSuite('tools/k8s/scripts/kill-pod.sh');

killPod(
  'deletes the pod by label and returns once a new pod is Ready, not the terminating one',
  withFake((fake) => {
    fake.answer('pods', 1, 'u1|microbank-account-system-5d9f-x2x|True|\n');
    // Right after the delete: the old pod terminating (still Ready), its replacement starting.
    fake.answer(
      'pods',
      2,
      'u1|microbank-account-system-5d9f-x2x|True|2026-01-03T11:36:07Z\nu2|microbank-account-system-5d9f-k7q|False|\n',
    );
    fake.answer('pods', 3, 'u2|microbank-account-system-5d9f-k7q|True|\n');
    const result = fake.run('bash', [script('kill-pod.sh'), 'account-system'], { KILL_POD_POLL_SECONDS: '0' });
    assert.is(result.status, 0, result.stderr);
    assert.match(result.stdout, /^Found microbank-account-system-5d9f-x2x$/m);
    assert.match(result.stdout, /^Replacement microbank-account-system-5d9f-k7q is Ready$/m);
    const calls = fake.calls();
    assert.equal(calls[0]?.slice(0, 6), [
      'get',
      'pods',
      '--namespace',
      'microbank',
      '--selector',
      'app.kubernetes.io/part-of=microbank,app.kubernetes.io/name=account-system',
    ]);
    assert.equal(calls[1], [
      'delete',
      'pod',
      'microbank-account-system-5d9f-x2x',
      '--namespace',
      'microbank',
      '--wait=false',
    ]);
    assert.is(calls.filter((c) => c[0] === 'get').length, 3, 'it must keep polling past the terminating pod');
  }),
);

killPod(
  'tells the StatefulSet pod from its same-named replacement by uid',
  withFake((fake) => {
    fake.answer('pods', 1, 'old-uid|microbank-redis-0|True|\n');
    fake.answer('pods', 2, 'old-uid|microbank-redis-0|True|2026-01-03T11:36:07Z\n');
    fake.answer('pods', 3, 'new-uid|microbank-redis-0|False|\n');
    fake.answer('pods', 4, 'new-uid|microbank-redis-0|True|\n');
    const result = fake.run('bash', [script('kill-pod.sh'), 'redis'], { KILL_POD_POLL_SECONDS: '0' });
    assert.is(result.status, 0, result.stderr);
    assert.match(result.stdout, /Replacement microbank-redis-0 is Ready/);
    assert.is(fake.calls().filter((c) => c[0] === 'get').length, 4);
  }),
);

killPod(
  'deletes one replica of a component that has two, and waits for a new pod, not the one left',
  withFake((fake) => {
    fake.answer('pods', 1, 'u1|microbank-transfer-7c4-a|True|\nu2|microbank-transfer-7c4-b|True|\n');
    fake.answer(
      'pods',
      2,
      'u1|microbank-transfer-7c4-a|True|2026-01-03T11:36:07Z\nu2|microbank-transfer-7c4-b|True|\n',
    );
    fake.answer('pods', 3, 'u2|microbank-transfer-7c4-b|True|\nu3|microbank-transfer-7c4-c|True|\n');
    const result = fake.run('bash', [script('kill-pod.sh'), 'transfer'], { KILL_POD_POLL_SECONDS: '0' });
    assert.is(result.status, 0, result.stderr);
    const deletes = fake.calls().filter((c) => c[0] === 'delete');
    assert.equal(
      deletes.map((c) => c[2]),
      ['microbank-transfer-7c4-a'],
    );
    assert.match(result.stdout, /^Replacement microbank-transfer-7c4-c is Ready$/m);
    assert.is(fake.calls().filter((c) => c[0] === 'get').length, 3, 'the replica left is not a replacement');
  }),
);

killPod(
  'right after another kill: leaves the pod already terminating alone and deletes a live one',
  withFake((fake) => {
    const listed = 'u1|microbank-transfer-7c4-a|True|2026-01-03T11:36:07Z\nu2|microbank-transfer-7c4-b|True|\n';
    fake.answer('pods', 1, `${listed}u3|microbank-transfer-7c4-c|True|\n`);
    fake.answer('pods', 2, 'u3|microbank-transfer-7c4-c|True|\nu4|microbank-transfer-7c4-d|True|\n');
    const result = fake.run('bash', [script('kill-pod.sh'), 'transfer'], { KILL_POD_POLL_SECONDS: '0' });
    assert.is(result.status, 0, result.stderr);
    assert.equal(
      fake
        .calls()
        .filter((c) => c[0] === 'delete')
        .map((c) => c[2]),
      ['microbank-transfer-7c4-b'],
    );
    assert.match(result.stdout, /^Replacement microbank-transfer-7c4-d is Ready$/m);

    rmSync(join(fake.dir, 'count-pods'));
    fake.answer('pods', 1, 'u1|microbank-balance-1|True|2026-01-03T11:36:07Z\n');
    const leaving = fake.run('bash', [script('kill-pod.sh'), 'balance']);
    assert.is(leaving.status, 1);
    assert.match(leaving.stderr, /Every balance pod is already terminating/);
  }),
);

killPod(
  'fails when no pod is found, and when no replacement gets Ready in time',
  withFake((fake) => {
    fake.answer('pods', 1, '');
    const none = fake.run('bash', [script('kill-pod.sh'), 'balance']);
    assert.is(none.status, 1);
    assert.match(none.stderr, /No balance pod in namespace microbank/);

    rmSync(join(fake.dir, 'count-pods'));
    fake.answer('pods', 1, 'u1|microbank-balance-1|True|\n');
    fake.answer('pods', 2, 'u1|microbank-balance-1|True|2026-01-03T11:36:07Z\n');
    const stuck = fake.run('bash', [script('kill-pod.sh'), 'balance'], {
      KILL_POD_POLL_SECONDS: '0.2',
      KILL_POD_TIMEOUT_SECONDS: '1',
    });
    assert.is(stuck.status, 1);
    assert.match(stuck.stderr, /No Ready replacement for balance within 1s/);
  }),
);
killPod.run();

// ---------------------------------------------------------------------------------------------
const deploy = testSuite('tools/k8s/scripts/deploy.sh');

deploy(
  'applies k8s/, waits for each rollout, prints the NodePorts and "Happy banking!"',
  withFake((fake) => {
    fake.answer(
      'statefulsets,deployments',
      1,
      'statefulset.apps/microbank-redis\ndeployment.apps/microbank-account-system\ndeployment.apps/microbank-balance\n',
    );
    fake.answer('nodes', 1, '172.18.0.2');
    fake.answer('services', 1, 'microbank-account-system 31913\nmicrobank-balance 32635\n');
    const result = fake.run('bash', [script('deploy.sh')]);
    assert.is(result.status, 0, result.stderr);
    const calls = fake.calls();
    assert.equal(calls[0], ['apply', '-k', join(repoRoot, 'k8s')]);
    const rollouts = calls.filter((c) => c[0] === 'rollout').map((c) => c[2]);
    assert.equal(rollouts, [
      'statefulset.apps/microbank-redis',
      'deployment.apps/microbank-account-system',
      'deployment.apps/microbank-balance',
    ]);
    assert.match(result.stdout, /microbank-account-system +http:\/\/172\.18\.0\.2:31913/);
    assert.match(result.stdout, /microbank-balance +http:\/\/172\.18\.0\.2:32635/);
    assert.match(result.stdout, /^Happy banking!$/m);
  }),
);
deploy.run();

// ---------------------------------------------------------------------------------------------
const streams = testSuite('tools/k8s/scripts/streams.sh');

streams(
  'runs redis-cli in the Redis pod, authenticated by the pod environment, never by argv',
  withFake((fake) => {
    const expectations: [string[], string[]][] = [
      [[], ['XRANGE', 'microbank:accounts', '-', '+']],
      [['len'], ['XLEN', 'microbank:accounts']],
      [['tail'], ['XREAD', 'BLOCK', '0', 'STREAMS', 'microbank:accounts', '$']],
      [
        ['cli', 'XRANGE', 'microbank:accounts', '-', '+', 'COUNT', '5'],
        ['XRANGE', 'microbank:accounts', '-', '+', 'COUNT', '5'],
      ],
    ];
    for (const [args, redisArgs] of expectations) {
      rmSync(join(fake.dir, 'calls'), { force: true });
      const result = fake.run('bash', [script('streams.sh'), ...args]);
      assert.is(result.status, 0, result.stderr);
      assert.equal(fake.calls(), [
        [
          'exec',
          '--stdin',
          '--namespace',
          'microbank',
          'statefulset/microbank-redis',
          '--container',
          'redis',
          '--',
          'redis-cli',
          ...redisArgs,
        ],
      ]);
    }
  }),
);
streams.run();

// ---------------------------------------------------------------------------------------------
const monkey = testSuite('the chaos monkey script (from the rendered CronJob)');

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

monkey(
  'deletes exactly one running microbank pod, chosen at random, never its own',
  withFake((fake) => {
    const [shell, ...args] = chaosCommand();
    const pods = ['pod/microbank-account-system-1', 'pod/microbank-balance-1', 'pod/microbank-redis-0'];
    fake.answer('pods', 1, `${pods.join('\n')}\n`);
    const victims = new Set<string>();
    for (let i = 0; i < 30; i++) {
      rmSync(join(fake.dir, 'calls'), { force: true });
      const result = fake.run(shell as string, args, { POD_NAMESPACE: 'microbank', HOME: fake.dir });
      assert.is(result.status, 0, result.stderr);
      const calls = fake.calls();
      const [list, ...deletes] = calls;
      assert.equal(list?.slice(0, 4), ['get', 'pods', '--namespace', 'microbank']);
      assert.ok(
        list?.includes('app.kubernetes.io/part-of=microbank,app.kubernetes.io/name!=chaos-monkey'),
        'it must exclude itself',
      );
      assert.ok(list?.includes('status.phase=Running'));
      assert.is(deletes.length, 1, 'exactly one delete per run');
      const [verb, ...rest] = deletes[0] as string[];
      assert.is(verb, 'delete');
      assert.ok(rest.includes('--wait=false'), 'waiting needs get/watch, which the Role does not grant');
      const victim = rest.at(-1) as string;
      assert.ok(pods.includes(victim), victim);
      victims.add(victim);
    }
    assert.ok(victims.size > 1, 'thirty runs always chose the same pod: not random');
  }),
);

monkey(
  'with no running microbank pod it deletes nothing and succeeds',
  withFake((fake) => {
    const [shell, ...args] = chaosCommand();
    fake.answer('pods', 1, '');
    const result = fake.run(shell as string, args, { POD_NAMESPACE: 'microbank', HOME: fake.dir });
    assert.is(result.status, 0, result.stderr);
    assert.match(result.stdout, /no running microbank pod/);
    assert.equal(
      fake.calls().filter((c) => c[0] === 'delete'),
      [],
    );
  }),
);
monkey.run();
