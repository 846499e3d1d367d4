/** Label selectors, evaluated the way the API server evaluates them. */
import { asArray, asObject, asStringMap, type Json } from './k8s-object.ts';

/** matchLabels and matchExpressions, as the API server evaluates a LabelSelector. */
export function selectorMatches(selector: Json, labels: Record<string, string>): boolean {
  if (!labelsMatch(asStringMap(selector.matchLabels), labels)) return false;
  return asArray(selector.matchExpressions)
    .map(asObject)
    .every((e) => {
      const key = String(e.key);
      const values = asArray(e.values).map(String);
      const has = Object.hasOwn(labels, key);
      switch (e.operator) {
        case 'In':
          return has && values.includes(labels[key] as string);
        case 'NotIn':
          return !has || !values.includes(labels[key] as string);
        case 'Exists':
          return has;
        case 'DoesNotExist':
          return !has;
        default:
          return false;
      }
    });
}

/** A plain label map (a Service's selector, matchLabels): every label wanted is there with its value. */
export function labelsMatch(wanted: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.entries(wanted).every(([k, v]) => labels[k] === v);
}
