/** Rendering a kustomization directory (`kubectl kustomize`) and parsing the YAML stream it prints. */
import { execFileSync } from 'node:child_process';
import { parseAllDocuments } from 'yaml';
import type { K8sObject } from './checks.ts';

/** Renders a kustomization directory with `kubectl kustomize` and parses every document. */
export function renderKustomization(dir: string): K8sObject[] {
  let out: string;
  try {
    out = execFileSync('kubectl', ['kustomize', dir], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT')
      throw new Error('kubectl not found on PATH: it is needed to render k8s/ (kubectl kustomize)');
    throw new Error(`kubectl kustomize ${dir} failed: ${e.stderr?.trim() || e.message}`);
  }
  return parseObjects(out);
}

/** Parses a multi-document YAML stream; a YAML error throws rather than dropping a document. */
export function parseObjects(text: string): K8sObject[] {
  return parseAllDocuments(text)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`YAML: ${doc.errors.map((e) => e.message).join('; ')}`);
      return doc.toJS() as unknown;
    })
    .filter((value): value is K8sObject => value !== null && value !== undefined) as K8sObject[];
}
