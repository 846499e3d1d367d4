/**
 * Schema checks of one object: types, enums, quantities and required fields with kubernetes-models; unknown
 * fields (which its validators let through) by walking the attributeTypeMap of @kubernetes/client-node's models.
 */
import * as clientNode from '@kubernetes/client-node';
import * as models from 'kubernetes-models';
import { isObject, type K8sObject, nameOf } from './checks.ts';

type ModelClass = new (data: unknown) => { validate(): void };
type AjvError = { instancePath: string; message?: string; params: Record<string, unknown> };

/** apiVersion as group and version: `apps/v1` -> ['apps', 'v1'], `v1` (the core group) -> ['', 'v1']. */
const splitApiVersion = (apiVersion: string): string[] =>
  apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];

/** Every schema problem of the object, or that there is no schema for its apiVersion and kind. */
export function checkSchema(object: K8sObject): string[] {
  const [group = '', version = ''] = splitApiVersion(object.apiVersion);
  // kubernetes-models names a group's namespace in camelCase: rbac.authorization.k8s.io -> rbacAuthorizationK8sIo.
  const root = models as unknown as Record<string, Record<string, Record<string, unknown>>>;
  const versions = group === '' ? root : root[group.replace(/\.(\w)/g, (_, c: string) => c.toUpperCase())];
  const Model = (versions?.[version] as Record<string, unknown> | undefined)?.[object.kind];
  if (typeof Model !== 'function')
    return [`${nameOf(object)}: no schema for apiVersion ${object.apiVersion} kind ${object.kind}`];
  try {
    new (Model as ModelClass)(forSchema(object)).validate();
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

/**
 * kustomize wraps long base64 values of Secrets over several lines; the API server's base64 decoder
 * skips line breaks, the schema's "byte" format does not. Judge the value as the server will.
 */
function forSchema(object: K8sObject): K8sObject {
  if (object.kind !== 'Secret' || !isObject(object.data)) return object;
  const unwrap = (v: unknown) => (typeof v === 'string' ? v.replace(/[\r\n]/g, '') : v);
  return { ...object, data: Object.fromEntries(Object.entries(object.data).map(([k, v]) => [k, unwrap(v)])) };
}

type TypeMapped = { attributeTypeMap?: { baseName: string; type: string }[] };
const library = clientNode as unknown as Record<string, TypeMapped | undefined>;

/** Every field of the object that its model does not have (a typo, a field at the wrong level). */
export function checkUnknownFields(object: K8sObject): string[] {
  const [group = '', version = ''] = splitApiVersion(object.apiVersion);
  const v = version.charAt(0).toUpperCase() + version.slice(1);
  // Kinds that exist in two groups carry the group's name first (CoreV1Event, EventsV1Event).
  const prefix = (group === '' ? 'core' : (group.split('.')[0] ?? '')).replace(/^\w/, (c) => c.toUpperCase());
  const type = [`${prefix}${v}${object.kind}`, `${v}${object.kind}`].find((n) => library[n]?.attributeTypeMap);
  if (!type) return [`${nameOf(object)}: no field list for apiVersion ${object.apiVersion} kind ${object.kind}`];
  const problems: string[] = [];
  walkFields(object, type, '', (path, message) => problems.push(`${nameOf(object)}: ${path}: ${message}`));
  return problems;
}

function walkFields(value: unknown, type: string, path: string, report: (path: string, message: string) => void): void {
  if (value === null || value === undefined) return;
  const array = /^Array<(.+)>$/.exec(type)?.[1];
  if (array !== undefined) {
    if (Array.isArray(value)) for (const [i, item] of value.entries()) walkFields(item, array, `${path}[${i}]`, report);
    return;
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type)?.[1];
  if (map !== undefined) {
    if (isObject(value)) for (const [k, v] of Object.entries(value)) walkFields(v, map, `${path}.${k}`, report);
    return;
  }
  const attributes = library[type]?.attributeTypeMap;
  if (!attributes) return; // a scalar: string, number, boolean, Date, IntOrString, any (types are the schema's job)
  if (!isObject(value)) {
    report(path || '(root)', `expected an object (${type})`);
    return;
  }
  const fields = new Map(attributes.map((a) => [a.baseName, a.type]));
  for (const [key, child] of Object.entries(value)) {
    const childPath = path === '' ? key : `${path}.${key}`;
    const childType = fields.get(key);
    if (childType === undefined) report(childPath, `unknown field "${key}" (not in ${type})`);
    else walkFields(child, childType, childPath, report);
  }
}
