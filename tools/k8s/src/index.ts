/** @microbank/k8s-tools: offline checks of the rendered Kubernetes manifests in k8s/ (`pnpm k8s:check`). */
export { type CheckOptions, checkManifests } from './check-manifests.ts';
export { type K8sObject, nameOf, selectorMatches } from './k8s-object.ts';
export { checkPodHygiene } from './pod-hygiene.ts';
export { checkPolicies, POLICIES } from './policies.ts';
export { checkCrossReferences } from './references.ts';
export { parseObjects, renderKustomization } from './render.ts';
export { checkSchema, checkUnknownFields } from './schema.ts';
