/** What the tests of k8s/ share: where the kustomizations are, their renders (once each), readers by path. */
import { join } from 'node:path';
import { REPO_ROOT as repoRoot } from '@microbank/testing';
import type { K8sObject } from './k8s-object.ts';
import { renderKustomization } from './render.ts';

/** The manifests (kustomize), at the repository's root; this package only checks them. */
export const k8sDir = join(repoRoot, 'k8s');

/** The kustomizations of k8s/: the root (what `kubectl apply -k k8s` deploys) and the layers under it. */
export const KUSTOMIZATIONS = {
  root: k8sDir,
  base: join(k8sDir, 'base'),
  dev: join(k8sDir, 'overlays', 'dev'),
  production: join(k8sDir, 'overlays', 'production'),
} as const;
export type Layer = keyof typeof KUSTOMIZATIONS;

/** The Secrets the base references and only the dev overlay generates: production requires them to exist. */
export const EXTERNAL_SECRETS = ['microbank-redis', 'microbank-snapshot-key', 'microbank-transfer-clients'] as const;

const cache = new Map<string, K8sObject[]>();
/** The render of one kustomization of k8s/ (default: the root), once per run; each caller gets a deep copy. */
export function render(layer: Layer = 'root'): K8sObject[] {
  const dir = KUSTOMIZATIONS[layer];
  let objects = cache.get(dir);
  if (!objects) {
    objects = renderKustomization(dir);
    cache.set(dir, objects);
  }
  return structuredClone(objects);
}

// biome-ignore lint/suspicious/noExplicitAny: rendered objects are read and mutated freely by path in tests
export type Json = Record<string, any>;

export function get(objects: K8sObject[], kind: string, name: string): Json {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`${kind}/${name} is not in the render`);
  return found;
}
export const podSpec = (o: Json): Json =>
  o.kind === 'CronJob' ? o.spec.jobTemplate.spec.template.spec : o.spec.template.spec;
export const podLabels = (o: Json): Record<string, string> =>
  (o.kind === 'CronJob' ? o.spec.jobTemplate.spec.template : o.spec.template).metadata.labels ?? {};
export const container = (o: Json): Json => podSpec(o).containers[0];
export function env(c: Json, name: string): Json {
  const found = (c.env as Json[] | undefined)?.find((e) => e.name === name);
  if (!found) throw new Error(`env ${name} is not set on container ${c.name}`);
  return found;
}

/** The microbank services: each a Deployment and a Service named microbank-<service>. */
export const SERVICES = ['account-system', 'balance', 'john-account', 'mary-account', 'transfer', 'dashboard'] as const;
export const bundleOf = (svc: string) =>
  `packages/${svc.endsWith('-account') && svc !== 'account-system' ? 'account' : svc}/dist/main.mjs`;

/** `Kind/name` of every object, sorted, the hash of the generated Redis ConfigMap replaced by <hash>. */
export function objectNames(objects: readonly K8sObject[]): string[] {
  return objects
    .map((o) => `${o.kind}/${o.metadata.name}`.replace(/^(ConfigMap\/microbank-redis-config)-[a-z0-9]+$/, '$1-<hash>'))
    .sort();
}
