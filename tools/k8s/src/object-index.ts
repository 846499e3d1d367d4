/** Looking up the objects of a render by kind, namespace and name, for the checks of references. */
import { type K8sObject, namespaceOf } from './k8s-object.ts';

/** The object of that kind and name in that namespace ('' for a cluster-scoped kind), if rendered. */
export type Finder = (kind: string, namespace: string, name: string) => K8sObject | undefined;

export interface ObjectIndex {
  find: Finder;
  /** Objects whose kind, namespace and name an earlier object already has; the later one is found. */
  duplicates: K8sObject[];
}

export function indexObjects(objects: readonly K8sObject[]): ObjectIndex {
  const byKey = new Map<string, K8sObject>();
  const duplicates: K8sObject[] = [];
  for (const o of objects) {
    const key = keyOf(o.kind, namespaceOf(o), o.metadata.name);
    if (byKey.has(key)) duplicates.push(o);
    byKey.set(key, o);
  }
  return { find: (kind, namespace, name) => byKey.get(keyOf(kind, namespace, name)), duplicates };
}

function keyOf(kind: string, namespace: string, name: string): string {
  return `${kind}/${namespace}/${name}`;
}
