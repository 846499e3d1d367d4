/** @microbank/k8s-tools: offline checks of the rendered Kubernetes manifests in k8s/ (`pnpm k8s:check`). */
export { type CheckOptions, checkManifests } from './check-manifests.ts';
export { checkCrossReferences } from './cross-references.ts';
export { type K8sObject, nameOf } from './k8s-object.ts';
export { checkPodHygiene } from './pod-hygiene.ts';
export { parseObjects, renderKustomization } from './render.ts';
export { checkSchema } from './schema.ts';
export { selectorMatches } from './selectors.ts';
export { checkUnknownFields } from './unknown-fields.ts';
