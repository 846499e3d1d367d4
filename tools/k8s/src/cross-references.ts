/** Cross-references within a render: names, namespaces, selectors, Services, NetworkPolicies, RBAC. */
import {
  asArray,
  asObject,
  asStringMap,
  isClusterScoped,
  type K8sObject,
  nameOf,
  namespaceOf,
  problemList,
  type Report,
} from './k8s-object.ts';
import { type Finder, indexObjects } from './object-index.ts';
import { containers, hasPort, type PodTemplate, podTemplates, WORKLOADS } from './pod-templates.ts';
import { checkReachability } from './reachability.ts';
import { labelsMatch, selectorMatches } from './selectors.ts';

/** Every reference between the objects of a render that points at nothing, or at the wrong thing. */
export function checkCrossReferences(objects: readonly K8sObject[]): string[] {
  const { problems, report } = problemList();
  const { find, duplicates } = indexObjects(objects);
  for (const o of duplicates) report(o, 'defined twice');
  const templates = podTemplates(objects);
  checkNamespaces(objects, find, report);
  checkWorkloads(templates, find, report);
  checkServices(objects, templates, report);
  checkNetworkPolicySelectors(objects, templates, report);
  problems.push(...checkReachability(objects, templates));
  checkRoleBindings(objects, find, report);
  return problems;
}

function checkNamespaces(objects: readonly K8sObject[], find: Finder, report: Report): void {
  for (const o of objects) {
    if (isClusterScoped(o)) continue;
    const ns = o.metadata.namespace;
    if (!ns) report(o, 'metadata.namespace is not set');
    else if (!find('Namespace', '', ns)) report(o, `namespace "${ns}" is not created by the render`);
  }
}

function checkWorkloads(templates: readonly PodTemplate[], find: Finder, report: Report): void {
  for (const t of templates) {
    const o = t.owner;
    const spec = asObject(o.spec);
    if (WORKLOADS.has(o.kind)) {
      const selector = asObject(spec.selector);
      if (!selectorMatches(selector, t.labels)) {
        report(
          o,
          `spec.selector ${JSON.stringify(selector)} does not match its own pod labels ${JSON.stringify(t.labels)}`,
        );
      }
      const restart = t.spec.restartPolicy;
      if (restart !== undefined && restart !== 'Always')
        report(o, `${t.at}.restartPolicy must be Always, not ${String(restart)}`);
    }
    if (
      o.kind === 'StatefulSet' &&
      typeof spec.serviceName === 'string' &&
      !find('Service', t.namespace, spec.serviceName)
    ) {
      report(o, `spec.serviceName "${spec.serviceName}" is not a Service in the render`);
    }
  }
}

function checkServices(objects: readonly K8sObject[], templates: readonly PodTemplate[], report: Report): void {
  for (const svc of objects.filter((o) => o.kind === 'Service')) {
    const spec = asObject(svc.spec);
    const selector = asStringMap(spec.selector);
    if (Object.keys(selector).length === 0) {
      report(svc, 'spec.selector is empty: it selects no pod of the render');
      continue;
    }
    const selected = templates.filter((t) => t.namespace === namespaceOf(svc) && labelsMatch(selector, t.labels));
    if (selected.length === 0) {
      report(svc, `spec.selector ${JSON.stringify(selector)} matches no pod template in the render`);
      continue;
    }
    for (const [i, port] of asArray(spec.ports).map(asObject).entries()) {
      const target = port.targetPort ?? port.port;
      for (const t of selected) {
        if (!containers(t.spec).some((c) => hasPort(c, target))) {
          report(svc, `spec.ports[${i}].targetPort ${String(target)} is no container port of ${nameOf(t.owner)}`);
        }
      }
    }
  }
}

function checkNetworkPolicySelectors(
  objects: readonly K8sObject[],
  templates: readonly PodTemplate[],
  report: Report,
): void {
  for (const policy of objects.filter((o) => o.kind === 'NetworkPolicy')) {
    const selector = asObject(asObject(policy.spec).podSelector);
    if (!templates.some((t) => t.namespace === namespaceOf(policy) && selectorMatches(selector, t.labels))) {
      report(policy, `spec.podSelector ${JSON.stringify(selector)} selects no pod template in the render`);
    }
  }
}

function checkRoleBindings(objects: readonly K8sObject[], find: Finder, report: Report): void {
  for (const binding of objects.filter((o) => o.kind === 'RoleBinding' || o.kind === 'ClusterRoleBinding')) {
    const ref = asObject(binding.roleRef);
    const roleNs = ref.kind === 'Role' ? namespaceOf(binding) : '';
    if (ref.kind === 'Role' && !find('Role', roleNs, String(ref.name)))
      report(binding, `roleRef Role "${String(ref.name)}" is not in the render`);
    for (const [i, subject] of asArray(binding.subjects).map(asObject).entries()) {
      const ns = typeof subject.namespace === 'string' ? subject.namespace : namespaceOf(binding);
      if (subject.kind === 'ServiceAccount' && !find('ServiceAccount', ns, String(subject.name))) {
        report(
          binding,
          `subjects[${i}]: ServiceAccount "${String(subject.name)}" in namespace "${ns}" is not in the render`,
        );
      }
    }
  }
}
