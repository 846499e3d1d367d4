/**
 * `pnpm k8s:check [--external-secret NAME ...] [--upgrade-from DIR|FILE ...] [dir ...]`: renders kustomization
 * directories and prints every problem the offline checks find; `--record-release` records the overlays' release.
 */
import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { parse } from 'yaml';
import { checkManifests, renderKustomization } from './index.ts';
import { checkUpgrade, immutableFields, type Recorded, releaseRecord } from './upgrades.ts';

const USAGE = `usage: pnpm k8s:check [--external-secret NAME ...] [--upgrade-from DIR|FILE ...] [dir ...]
       pnpm k8s:check --record-release
  Renders each kustomization directory with kubectl kustomize (default: k8s/ of this repository, the dev
  overlay; others are relative to the working directory) and checks the objects offline: schema, unknown
  fields, cross-references, pod hygiene. Prints every problem prefixed by its directory, then a summary.
  --external-secret NAME  a Secret that exists in the cluster, not in the render (repeatable): references
                          to it are not reported. The production overlay needs both of its Secrets:
                          pnpm k8s:check k8s/overlays/production --external-secret microbank-redis \\
                            --external-secret microbank-snapshot-key
  --upgrade-from DIR|FILE a kustomization directory (rendered) or a release's record (.yaml) the directories
                          are applied over (repeatable): a field Kubernetes never updates that differs is
                          reported. An overlay of k8s/ (k8s itself is overlays/dev) is always checked against
                          its release, k8s/released/<overlay>.yaml, when there is one.
  --record-release        records the release: writes k8s/released/<overlay>.yaml for every overlay of k8s/.
  Exits 0 when nothing was found, 1 when anything was (a directory that fails to render too), 2 on bad usage.`;
const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));

function usageError(message: string): never {
  console.error(`k8s:check: ${message}\n${USAGE}`);
  process.exit(2);
}

const options = {
  help: { type: 'boolean', short: 'h' },
  'external-secret': { type: 'string', multiple: true },
  'upgrade-from': { type: 'string', multiple: true },
  'record-release': { type: 'boolean' },
} as const;
let args: ReturnType<typeof parseArgs<{ options: typeof options; allowPositionals: true }>>;
try {
  args = parseArgs({ options, allowPositionals: true });
} catch (error) {
  usageError((error as Error).message);
}
if (args.values.help) {
  console.log(USAGE);
  process.exit(0);
}
const externalSecrets = args.values['external-secret'] ?? [];
// A Secret's name is a DNS subdomain: this catches a flag swallowing a directory or another flag.
const notAName = externalSecrets.find((name) => !/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/.test(name));
if (notAName !== undefined) usageError(`--external-secret ${notAName} is not a Secret name`);
const overlays = join(repoRoot, 'k8s', 'overlays');
const released = (overlay: string) => join(repoRoot, 'k8s', 'released', `${overlay}.yaml`);
if (args.values['record-release']) {
  if (args.positionals.length > 0 || externalSecrets.length > 0) usageError('--record-release takes nothing else');
  for (const overlay of readdirSync(overlays)) {
    const objects = renderKustomization(join(overlays, overlay));
    const version = objects.find((o) => o.metadata.labels?.['app.kubernetes.io/version'])?.metadata.labels;
    const title = `microbank ${version?.['app.kubernetes.io/version']}, overlay ${overlay}: the fields no update may change (pnpm k8s:check --record-release).`;
    writeFileSync(released(overlay), releaseRecord(objects, title));
    console.log(`k8s:check: recorded ${released(overlay)}`);
  }
  process.exit(0);
}
/** What a directory's render is applied over: a recorded release, or another directory's render. */
const upgradesFrom = (args.values['upgrade-from'] ?? []).map((from) => {
  const stat = statSync(from, { throwIfNoEntry: false });
  if (!stat) usageError(`--upgrade-from ${from} is neither a directory nor a file`);
  const recorded = stat.isDirectory()
    ? immutableFields(renderKustomization(resolve(from)))
    : parse(readFileSync(from, 'utf8'));
  return { from, recorded: recorded as Recorded[] };
});
/** The release of an overlay of this repository's k8s/ (k8s itself renders overlays/dev), if recorded. */
function releaseOf(path: string): { from: string; recorded: Recorded[] }[] {
  const overlay = path === join(repoRoot, 'k8s') ? 'dev' : resolve(path, '..') === overlays ? basename(path) : '';
  const file = released(overlay);
  if (!overlay || !statSync(file, { throwIfNoEntry: false })) return [];
  return [{ from: `the release k8s/released/${overlay}.yaml`, recorded: parse(readFileSync(file, 'utf8')) }];
}
const dirs = args.positionals.length > 0 ? args.positionals : [join(repoRoot, 'k8s')];
const targets = dirs.map((dir, i) => ({ label: args.positionals[i] ?? 'k8s', path: resolve(dir) }));
const missing = targets.find(({ path }) => !statSync(path, { throwIfNoEntry: false })?.isDirectory());
if (missing) usageError(`${missing.label} is not a directory`);

let objectCount = 0;
let problemCount = 0;
// The namespace is applied apart, once (k8s/namespace): the overlays' objects sit in it without rendering it.
const namespaces = renderKustomization(join(repoRoot, 'k8s', 'namespace')).map((o) => o.metadata.name);
for (const { label, path } of targets) {
  let problems: string[];
  try {
    const objects = renderKustomization(path);
    objectCount += objects.length;
    problems = checkManifests(objects, { externalSecrets, namespaces });
    for (const { from, recorded } of [...releaseOf(path), ...upgradesFrom])
      problems.push(...checkUpgrade(recorded, objects, from));
  } catch (error) {
    problems = [(error as Error).message];
  }
  for (const problem of problems) console.log(`${label}: ${problem}`);
  problemCount += problems.length;
}
const count = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;
const checked = `${count(objectCount, 'object', 'objects')} checked in ${count(targets.length, 'directory', 'directories')}`;
console.log(`k8s:check: ${checked}, ${count(problemCount, 'problem', 'problems')} found`);
process.exitCode = problemCount > 0 ? 1 : 0;
