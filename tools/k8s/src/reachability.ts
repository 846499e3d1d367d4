/** Reachability: a URL in a pod's environment names a Service, on a port it serves, that NetworkPolicies admit. */
import { asArray, asObject, asStringMap, type Json, type K8sObject, nameOf, namespaceOf } from './k8s-object.ts';
import { containers, type PodTemplate } from './pod-templates.ts';
import { labelsMatch, selectorMatches } from './selectors.ts';

/**
 * A pod whose environment names a Service by URL (redis://...@microbank-redis:6379, http://microbank-x)
 * must find that Service, on a port it serves, be admitted by the NetworkPolicies guarding the
 * Service's pods (ingress), and be let out by the NetworkPolicies guarding its own (egress).
 */
export function checkReachability(objects: readonly K8sObject[], templates: readonly PodTemplate[]): string[] {
  const problems: string[] = [];
  const services = objects.filter((o) => o.kind === 'Service');
  const policies = objects.filter((o) => o.kind === 'NetworkPolicy');
  for (const client of templates) {
    for (const [i, c] of containers(client.spec).entries()) {
      for (const env of asArray(c.env).map(asObject)) {
        if (typeof env.value !== 'string') continue;
        const url = /^([a-z][a-z0-9+.-]*):\/\/(?:[^@/]*@)?([a-z0-9-]+)(?::(\d+))?(?:[/?#]|$)/.exec(env.value);
        if (!url) continue;
        const [, scheme, host, explicitPort] = url;
        if (host === 'localhost') continue;
        const where = `${nameOf(client.owner)}: ${client.at}.containers[${i}] (${String(c.name)}): env ${String(env.name)}`;
        const svc = services.find((s) => s.metadata.name === host && namespaceOf(s) === client.namespace);
        if (!svc) {
          problems.push(`${where}: host "${host}" is not a Service in the render`);
          continue;
        }
        const port = Number(explicitPort ?? (scheme === 'https' ? 443 : scheme === 'http' ? 80 : Number.NaN));
        const svcPort = asArray(asObject(svc.spec).ports)
          .map(asObject)
          .find((p) => p.port === port);
        if (!svcPort) {
          problems.push(`${where}: Service "${host}" has no port ${Number.isNaN(port) ? '(none given)' : port}`);
          continue;
        }
        const selector = asStringMap(asObject(svc.spec).selector);
        const servers = templates.filter((t) => t.namespace === client.namespace && labelsMatch(selector, t.labels));
        for (const server of servers) {
          const target = svcPort.targetPort ?? svcPort.port;
          const targetNumbers = containers(server.spec)
            .flatMap((sc) => asArray(sc.ports).map(asObject))
            .filter((p) => p.name === target || p.containerPort === target);
          const allowedBy = (direction: 'ingress' | 'egress', guarded: PodTemplate, peer: PodTemplate) => {
            const guarding = policies.filter(
              (p) =>
                namespaceOf(p) === guarded.namespace &&
                selectorMatches(asObject(asObject(p.spec).podSelector), guarded.labels) &&
                hasPolicyType(asObject(p.spec), direction),
            );
            const allowed = guarding.some((p) =>
              asArray(asObject(p.spec)[direction])
                .map(asObject)
                .some((rule) => ruleAllows(rule, direction === 'ingress' ? 'from' : 'to', peer, target, targetNumbers)),
            );
            return { guarding, allowed: guarding.length === 0 || allowed };
          };
          const ingress = allowedBy('ingress', server, client);
          if (!ingress.allowed) {
            problems.push(
              `${where}: no NetworkPolicy rule admits it to ${nameOf(server.owner)} (guarded by ${ingress.guarding.map(nameOf).join(', ')})`,
            );
          }
          const egress = allowedBy('egress', client, server);
          if (!egress.allowed) {
            problems.push(
              `${where}: no NetworkPolicy rule lets it out to ${nameOf(server.owner)} (its egress is guarded by ${egress.guarding.map(nameOf).join(', ')})`,
            );
          }
        }
      }
    }
  }
  return problems;
}

/** Whether a policy guards `direction`: its policyTypes say so, or (unset) it has rules of that kind / is ingress. */
function hasPolicyType(spec: Json, direction: 'ingress' | 'egress'): boolean {
  const types = asArray(spec.policyTypes);
  if (types.length > 0) return types.includes(direction === 'ingress' ? 'Ingress' : 'Egress');
  return direction === 'ingress' || spec.egress !== undefined;
}

/** Whether `rule` lets `peer` (the other end) through on the target port. */
function ruleAllows(
  rule: Json,
  peersField: 'from' | 'to',
  peer: PodTemplate,
  target: unknown,
  targetPorts: Json[],
): boolean {
  const ports = asArray(rule.ports).map(asObject);
  const portOk =
    ports.length === 0 ||
    ports.some(
      (p) =>
        p.port === undefined ||
        p.port === target ||
        targetPorts.some((tp) => tp.containerPort === p.port || tp.name === p.port),
    );
  if (!portOk) return false;
  const peers = asArray(rule[peersField]).map(asObject);
  if (peers.length === 0) return true;
  return peers.some((selector) => {
    if (selector.ipBlock !== undefined) return false; // pod-to-pod traffic is not judged by IP here
    if (selector.namespaceSelector !== undefined) return false; // only same-namespace peers are modelled
    return selectorMatches(asObject(selector.podSelector), peer.labels);
  });
}
