/** Each field Kubernetes never updates, changed once between a recorded release and a new render, is reported. */
import { testSuite } from '@microbank/testing';
import * as assert from 'uvu/assert';
import { parse } from 'yaml';
import type { K8sObject } from './checks.ts';
import { checkUpgrade, immutableFields, releaseRecord } from './upgrades.ts';

// biome-ignore lint/suspicious/noExplicitAny: objects are built and edited freely by path
type Json = Record<string, any>;
const obj = (kind: string, name: string, spec: Json) =>
  ({ apiVersion: 'v1', kind, metadata: { name, namespace: 'ns' }, spec }) as K8sObject;
const selector = { matchLabels: { 'app.kubernetes.io/name': 'db' } };
const claim = {
  metadata: { name: 'data' },
  spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '1Gi' } } },
};
const template = { metadata: { labels: selector.matchLabels }, spec: { containers: [{ name: 'c', image: 'x:1' }] } };
/** A release: a StatefulSet, a Deployment, a Service with a cluster IP, a headless one, a Job. */
const release = (): K8sObject[] =>
  structuredClone([
    obj('StatefulSet', 'db', { serviceName: 'db', selector, volumeClaimTemplates: [claim], replicas: 1, template }),
    obj('Deployment', 'app', { selector, replicas: 1, template }),
    obj('Service', 'db', { selector: selector.matchLabels }),
    obj('Service', 'db-nodes', { clusterIP: 'None', selector: selector.matchLabels }),
    obj('Job', 'bootstrap', { template }),
  ]);

const upgrades = testSuite('k8s: upgrades, each immutable field changed once');

upgrades('the same render, in another key order and with mutable fields changed, is an upgrade', () => {
  const next = release() as Json[];
  Object.assign(next[0]?.spec, { replicas: 6, template: {} });
  (next[1] as Json).spec = { template, replicas: 3, selector };
  assert.equal(checkUpgrade(immutableFields(release()), next as K8sObject[], 'r'), []);
  // The record round-trips through its file.
  assert.equal(checkUpgrade(parse(releaseRecord(release(), 'title\nsecond line')), release(), 'r'), []);
  assert.match(releaseRecord(release(), 'title\nsecond line'), /^# title\n# second line\n- object: StatefulSet\/db\n/);
});

// biome-ignore format: one line per case
const cases: [what: string, index: number, edit: (spec: Json) => void, expected: RegExp][] = [
  ['a serviceName', 0, (s) => { s.serviceName = 'db-headless'; }, /StatefulSet\/db: upgrading from r changes serviceName, .*"db" -> "db-headless"/],
  ['a StatefulSet selector', 0, (s) => { s.selector = { matchLabels: { a: 'b' } }; }, /StatefulSet\/db: .* changes selector/],
  ['a claim size', 0, (s) => { s.volumeClaimTemplates[0].spec.resources.requests.storage = '10Gi'; }, /StatefulSet\/db: .* changes volumeClaimTemplates, .*"1Gi".*"10Gi"/],
  ['a claim label', 0, (s) => { s.volumeClaimTemplates[0].metadata.labels = { v: '2' }; }, /StatefulSet\/db: .* changes volumeClaimTemplates/],
  ['a podManagementPolicy', 0, (s) => { s.podManagementPolicy = 'Parallel'; }, /StatefulSet\/db: .* changes podManagementPolicy, .*"OrderedReady" -> "Parallel"/],
  ['a Deployment selector', 1, (s) => { s.selector = { matchLabels: { ...s.selector.matchLabels, v: '2' } }; }, /Deployment\/app: .* changes selector/],
  ['a Service turned headless', 2, (s) => { s.clusterIP = 'None'; }, /Service\/db: .* changes headless, .*false -> true/],
  ['a headless Service given a cluster IP', 3, (s) => { delete s.clusterIP; }, /Service\/db-nodes: .* changes headless, .*true -> false/],
  ['a Job template', 4, (s) => { s.template.spec.containers[0].image = 'x:2'; }, /Job\/bootstrap: .* changes template/],
];
for (const [what, index, edit, expected] of cases)
  upgrades(`${what} changed is reported`, () => {
    const next = release();
    edit(next[index]?.spec as Json);
    const problems = checkUpgrade(immutableFields(release()), next, 'r');
    assert.is(problems.length, 1, problems.join('\n'));
    assert.match(problems[0] as string, expected);
  });

upgrades('an object of another name or namespace is another object, not an upgrade of it', () => {
  const next = release().map((o) => ({ ...o, metadata: { ...o.metadata, namespace: 'other' } })) as Json[];
  (next[0] as Json).spec = {};
  assert.equal(checkUpgrade(immutableFields(release()), next as K8sObject[], 'r'), []);
});
upgrades.run();
