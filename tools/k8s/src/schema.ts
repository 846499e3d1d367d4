/** Schema checks of one object (types, enums, quantities, required fields) with kubernetes-models. */
import * as models from 'kubernetes-models';
import { isObject, type K8sObject, nameOf, splitApiVersion } from './k8s-object.ts';

type ModelClass = new (data: unknown) => { validate(): void };

interface AjvError {
  instancePath: string;
  message?: string;
  params: Record<string, unknown>;
}

/** Every schema problem of the object, or that there is no schema for its apiVersion and kind. */
export function checkSchema(object: K8sObject): string[] {
  const Model = schemaModel(object.apiVersion, object.kind);
  if (!Model) return [`${nameOf(object)}: no schema for apiVersion ${object.apiVersion} kind ${object.kind}`];
  try {
    new Model(forSchema(object)).validate();
    return [];
  } catch (error) {
    const errors = (error as { errors?: AjvError[] }).errors;
    if (!errors) return [`${nameOf(object)}: schema: ${(error as Error).message}`];
    const messages = errors.map((e) => {
      const where = e.instancePath === '' ? '(root)' : e.instancePath.slice(1).replaceAll('/', '.');
      const allowed = e.params.allowedValues ? ` (${(e.params.allowedValues as unknown[]).join(', ')})` : '';
      return `${nameOf(object)}: schema: ${where} ${e.message ?? 'is invalid'}${allowed}`;
    });
    return [...new Set(messages)];
  }
}

function schemaModel(apiVersion: string, kind: string): ModelClass | undefined {
  const [group, version] = splitApiVersion(apiVersion);
  // kubernetes-models names a group's namespace in camelCase: rbac.authorization.k8s.io -> rbacAuthorizationK8sIo.
  const groupKey = group === '' ? undefined : group.replace(/\.(\w)/g, (_, c: string) => c.toUpperCase());
  const root = models as unknown as Record<string, Record<string, Record<string, unknown>>>;
  const versions = groupKey === undefined ? { [version]: root[version] } : root[groupKey];
  const candidate = (versions?.[version] as Record<string, unknown> | undefined)?.[kind];
  return typeof candidate === 'function' ? (candidate as ModelClass) : undefined;
}

/**
 * kustomize wraps long base64 values of Secrets over several lines; the API server's base64 decoder
 * skips line breaks, the schema's "byte" format does not. Judge the value as the server will.
 */
function forSchema(object: K8sObject): K8sObject {
  if (object.kind !== 'Secret' || !isObject(object.data)) return object;
  const data = Object.fromEntries(
    Object.entries(object.data).map(([k, v]) => [k, typeof v === 'string' ? v.replace(/[\r\n]/g, '') : v]),
  );
  return { ...object, data };
}
