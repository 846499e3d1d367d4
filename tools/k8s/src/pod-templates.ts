/** The pod templates of a render (workloads, Jobs, CronJobs, bare Pods) and their containers' ports. */
import { asArray, asObject, asStringMap, type Json, type K8sObject, namespaceOf } from './k8s-object.ts';

/** Kinds whose pods are kept running, under a selector. */
export const WORKLOADS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet']);

export interface PodTemplate {
  owner: K8sObject;
  namespace: string;
  labels: Record<string, string>;
  spec: Json;
  /** Where the pod spec sits in the owner, for messages. */
  at: string;
  /** A Job's pods run to completion: no probes are expected. */
  runsToCompletion: boolean;
}

export function podTemplates(objects: readonly K8sObject[]): PodTemplate[] {
  const templates: PodTemplate[] = [];
  for (const o of objects) {
    const spec = asObject(o.spec);
    let template: Json | undefined;
    let at = 'spec.template';
    if (WORKLOADS.has(o.kind) || o.kind === 'Job') template = asObject(spec.template);
    if (o.kind === 'CronJob') {
      template = asObject(asObject(asObject(spec.jobTemplate).spec).template);
      at = 'spec.jobTemplate.spec.template';
    }
    if (o.kind === 'Pod') {
      template = { metadata: o.metadata, spec: o.spec };
      at = '';
    }
    if (!template) continue;
    templates.push({
      owner: o,
      namespace: namespaceOf(o),
      labels: asStringMap(asObject(template.metadata).labels),
      spec: asObject(template.spec),
      at: at === '' ? 'spec' : `${at}.spec`,
      runsToCompletion: o.kind === 'Job' || o.kind === 'CronJob',
    });
  }
  return templates;
}

/** The (non-init) containers of a pod spec. */
export function containers(spec: Json): Json[] {
  return asArray(spec.containers).map(asObject);
}

/** Whether the container declares the port: by name when it is a string, else by number. */
export function hasPort(container: Json, port: unknown): boolean {
  return asArray(container.ports)
    .map(asObject)
    .some((p) => (typeof port === 'string' ? p.name === port : p.containerPort === port));
}
