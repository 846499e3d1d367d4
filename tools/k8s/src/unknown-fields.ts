/** Unknown-field checks of one object, walking the attributeTypeMap of @kubernetes/client-node's models. */
import * as clientNode from '@kubernetes/client-node';
import { isObject, type K8sObject, nameOf, splitApiVersion } from './k8s-object.ts';

interface Attribute {
  baseName: string;
  type: string;
}
type TypeMapped = { attributeTypeMap?: Attribute[] };

const library = clientNode as unknown as Record<string, TypeMapped | undefined>;

/** Every field of the object that its model does not have (a typo, a field at the wrong level). */
export function checkUnknownFields(object: K8sObject): string[] {
  const typeName = modelTypeName(object.apiVersion, object.kind);
  if (!typeName) return [`${nameOf(object)}: no field list for apiVersion ${object.apiVersion} kind ${object.kind}`];
  const problems: string[] = [];
  walkFields(object, typeName, '', (path, message) => problems.push(`${nameOf(object)}: ${path}: ${message}`));
  return problems;
}

function modelTypeName(apiVersion: string, kind: string): string | undefined {
  const [group, version] = splitApiVersion(apiVersion);
  const v = version.charAt(0).toUpperCase() + version.slice(1);
  // Kinds that exist in two groups carry the group's name first (CoreV1Event, EventsV1Event).
  const groupPrefix = (group === '' ? 'core' : (group.split('.')[0] ?? '')).replace(/^\w/, (c) => c.toUpperCase());
  return [`${groupPrefix}${v}${kind}`, `${v}${kind}`].find((name) => library[name]?.attributeTypeMap);
}

function walkFields(value: unknown, type: string, path: string, report: (path: string, message: string) => void): void {
  if (value === null || value === undefined) return;
  const array = /^Array<(.+)>$/.exec(type);
  if (array) {
    if (Array.isArray(value)) {
      for (const [i, item] of value.entries()) walkFields(item, array[1] as string, `${path}[${i}]`, report);
    }
    return;
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    if (isObject(value))
      for (const [k, v] of Object.entries(value)) walkFields(v, map[1] as string, `${path}.${k}`, report);
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
