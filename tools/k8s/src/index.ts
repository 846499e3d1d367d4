/** @microbank/k8s-tools: offline checks of the rendered Kubernetes manifests in k8s/ (`pnpm k8s:check`). */
import { checkCrossReferences, checkPodHygiene, isObject, type K8sObject } from './checks.ts';
import { checkPolicies, type Production } from './policies.ts';
import { checkSchema, checkUnknownFields } from './schema.ts';

export { checkCrossReferences, checkPodHygiene, type K8sObject, nameOf, selectorMatches } from './checks.ts';
export { checkPolicies, type Production } from './policies.ts';
export { parseObjects, renderKustomization } from './render.ts';
export { checkSchema, checkUnknownFields } from './schema.ts';
/** What the render is checked against besides itself. */
export interface CheckOptions {
  /**
   * Secrets that exist in the cluster outside the render (created by hand or by a secret manager,
   * as the production overlay requires): a reference to one is not reported. Their keys are unknown.
   */
  externalSecrets?: readonly string[];
  /** Namespaces created apart from the render (k8s/namespace): objects may sit in them. */
  namespaces?: readonly string[];
  /** Production's policies too: every image pinned by digest (but `tagPinned`), PodDisruptionBudgets for replicas. */
  production?: Production;
}

/** Every problem found in a rendered set of objects, each naming the object and the field. */
export function checkManifests(objects: readonly unknown[], options: CheckOptions = {}): string[] {
  const problems: string[] = [];
  const valid: K8sObject[] = [];
  for (const [i, object] of objects.entries()) {
    if (!isObject(object) || typeof object.apiVersion !== 'string' || typeof object.kind !== 'string') {
      problems.push(`document ${i}: not a Kubernetes object (apiVersion and kind are required)`);
    } else if (!isObject(object.metadata) || typeof object.metadata.name !== 'string' || object.metadata.name === '') {
      problems.push(`document ${i} (${object.kind}): metadata.name is required`);
    } else {
      valid.push(object as K8sObject);
    }
  }
  for (const object of valid) problems.push(...checkSchema(object), ...checkUnknownFields(object));
  problems.push(...checkCrossReferences(valid, options.namespaces), ...checkPodHygiene(valid, options.externalSecrets));
  return [...problems, ...checkPolicies(valid, options.production)];
}
