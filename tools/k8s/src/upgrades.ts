/**
 * Upgrades: the fields Kubernetes refuses to change on an existing object, as a release records them
 * (k8s/released/<overlay>.yaml), and the check that a new render (or another overlay) keeps them.
 */
import { stringify } from 'yaml';
import { asObject, type Json, type K8sObject, nameOf, namespaceOf } from './checks.ts';

/** One object of a release: `Kind/name`, its namespace, and the fields no update may change. */
export interface Recorded {
  object: string;
  namespace: string;
  fields: Json;
}

/** Per kind, the fields an update may not change; `kubectl apply` stops with "Forbidden" or "field is immutable". */
const IMMUTABLE: Record<string, (spec: Json) => Json> = {
  StatefulSet: (s) => ({
    serviceName: s.serviceName,
    selector: s.selector,
    // The whole template, the storage size included: a claim grows by a patch of the claim itself, never here.
    volumeClaimTemplates: s.volumeClaimTemplates ?? [],
    podManagementPolicy: s.podManagementPolicy ?? 'OrderedReady',
  }),
  Deployment: (s) => ({ selector: s.selector }),
  // A cluster IP is assigned once: a Service never turns headless (clusterIP: None), nor back.
  Service: (s) => ({ headless: s.clusterIP === 'None' }),
  Job: (s) => ({ template: s.template }),
};

/** Sorted keys, so that the same fields written in another order compare equal. */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  const entries = Object.entries(value).filter(([, v]) => v !== undefined);
  return `{${entries
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`)
    .join(',')}}`;
}

/** The immutable fields of every object of a render that has some. */
export function immutableFields(objects: readonly K8sObject[]): Recorded[] {
  return objects.flatMap((o) => {
    const fields = IMMUTABLE[o.kind]?.(asObject(o.spec));
    return fields ? [{ object: nameOf(o), namespace: namespaceOf(o), fields: JSON.parse(canonical(fields)) }] : [];
  });
}

/** A release's record, as k8s/released/<overlay>.yaml holds it. */
export function releaseRecord(objects: readonly K8sObject[], title: string): string {
  return `${title.replace(/^/gm, '# ')}\n${stringify(immutableFields(objects))}`;
}

/**
 * Every object of `next` whose immutable fields differ from those `previous` recorded for it (same kind, name and
 * namespace): applying `next` over `previous` would be refused there. `from` names `previous` in the messages.
 */
export function checkUpgrade(previous: readonly Recorded[], next: readonly K8sObject[], from: string): string[] {
  const before = new Map(previous.map((r) => [`${r.namespace}/${r.object}`, r.fields]));
  return immutableFields(next).flatMap(({ object, namespace, fields }) => {
    const old = before.get(`${namespace}/${object}`);
    if (!old) return [];
    return Object.keys(fields)
      .filter((field) => canonical(old[field]) !== canonical(fields[field]))
      .map(
        (field) =>
          `${object}: upgrading from ${from} changes ${field}, which Kubernetes never updates: ` +
          `${canonical(old[field])} -> ${canonical(fields[field])}`,
      );
  });
}
