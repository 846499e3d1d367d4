/** `pnpm k8s:check [--external-secret NAME ...] [dir ...]`: renders kustomization directories and prints every problem the offline checks find. */
import { statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { checkManifests, renderKustomization } from './index.ts';

const USAGE = `usage: pnpm k8s:check [--external-secret NAME ...] [dir ...]
  Renders each kustomization directory with kubectl kustomize (default: k8s/ of this repository, the dev
  overlay; others are relative to the working directory) and checks the objects offline: schema, unknown
  fields, cross-references, pod hygiene. Prints every problem prefixed by its directory, then a summary.
  --external-secret NAME  a Secret that exists in the cluster, not in the render (repeatable): references
                          to it are not reported. The production overlay needs both of its Secrets:
                          pnpm k8s:check k8s/overlays/production --external-secret microbank-redis \\
                            --external-secret microbank-snapshot-key
  Exits 0 when nothing was found, 1 when anything was (a directory that fails to render too), 2 on bad usage.`;
const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));

function usageError(message: string): never {
  console.error(`k8s:check: ${message}\n${USAGE}`);
  process.exit(2);
}

const options = {
  help: { type: 'boolean', short: 'h' },
  'external-secret': { type: 'string', multiple: true },
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
