/** The project's own policies beyond pod hygiene: secrets, argv, ports, Redis, labels, selectors, egress, shutdown. */
import * as k from './checks.ts';

const { asArray, asObject, list } = k;
/** An official Redis image, by tag or digest. */
const REDIS = /^(docker\.io\/)?(library\/)?redis[:@]/;

/** Env names that hold a credential. */
const SECRET_LIKE = /PASSWORD|SECRET|TOKEN|AUTH|(^|_)KEY$/;
/** The recommended labels (kubernetes.io common labels); a Namespace carries the first four. */
const LABELS = ['part-of', 'instance', 'version', 'managed-by', 'name', 'component'];
const COMMON_LABELS = LABELS.map((l) => `app.kubernetes.io/${l}`);

/** Production's policies: images by digest (but those named in tagPinned, without tag), PodDisruptionBudgets. */
export type Production = { tagPinned?: readonly string[] };

/** Every problem of the project's policies in a render, each `Kind/name: message`; production's when asked. */
export function checkPolicies(objects: readonly k.K8sObject[], production?: Production): string[] {
  const { problems, report } = k.problemList();
  const templates = k.podTemplates(objects);
  for (const t of templates) {
    // Production: a Deployment of several replicas has a PodDisruptionBudget (a node drain takes one pod at a time).
    const replicas = Number(asObject(t.owner.spec).replicas ?? 1);
    const budgets = objects.filter((b) => b.kind === 'PodDisruptionBudget' && k.namespaceOf(b) === t.namespace);
    const budgeted = budgets.some((b) => k.selectorMatches(asObject(asObject(b.spec).selector), t.labels));
    if (production && t.owner.kind === 'Deployment' && replicas > 1 && !budgeted)
      report(t.owner, `${replicas} replicas and no PodDisruptionBudget selects its pods`);
    // Every pod template carries its owner's recommended labels.
    for (const l of COMMON_LABELS.filter((l) => t.labels[l] !== t.owner.metadata.labels?.[l]))
      report(t.owner, `the pod template's label ${l} differs from the object's`);
    for (const c of [...list(t.spec.initContainers), ...list(t.spec.containers)]) {
      const say = (message: string) => report(t.owner, `container ${String(c.name)}: ${message}`);
      // A password, key or token is read from a Secret (a secretKeyRef, not optional), never written as a literal.
      if (c.envFrom !== undefined) say('envFrom hides what is read; name each variable');
      for (const e of list(c.env)) {
        const ref = asObject(e.valueFrom).secretKeyRef;
        if (SECRET_LIKE.test(String(e.name)) && (ref === undefined || e.value !== undefined))
          say(`env ${String(e.name)} must come from a secretKeyRef`);
        if (asObject(ref).optional === true) say(`env ${String(e.name)}: a secretKeyRef must not be optional`);
        // A URL's password (scheme://user:password@host) is $(VAR) of a variable from a Secret, never a literal.
        const password = /^[a-z][a-z0-9+.-]*:\/\/[^:@/]*:([^@/]+)@/.exec(String(e.value))?.[1];
        const from = list(c.env).find((v) => `$(${String(v.name)})` === password)?.valueFrom;
        if (password && !asObject(from).secretKeyRef)
          say(`env ${String(e.name)}: a URL's password must be $(VAR) of a secretKeyRef, not a literal`);
      }
      // No password on a command line (argv shows in ps and the API): redis-cli -a/--pass/--user, --requirepass.
      const probes = ['startupProbe', 'readinessProbe', 'livenessProbe'].map(
        (p) => asObject(asObject(c[p]).exec).command,
      );
      for (const cmd of [c.command, c.args, ...probes].map((argv) => asArray(argv).join(' ')))
        if (/(^|\s)(-a|--pass|--user)\s|--requirepass/.test(cmd)) say(`a password flag in argv: ${cmd}`);
      // Unprivileged ports: the containers run as non-root with no capabilities.
      for (const p of list(c.ports).filter((p) => Number(p.containerPort) < 1024))
        say(`containerPort ${String(p.containerPort)} is privileged (< 1024)`);
      // Redis 7.2.11 or later, the first 7.2 with CVE-2025-49844 and CVE-2025-46817/46818/46819 fixed.
      const image = String(c.image);
      const [major = -1, minor = 0, patch = 0] = /^[^:]+:(\d+)\.(\d+)\.(\d+)/.exec(image)?.slice(1).map(Number) ?? [];
      if (REDIS.test(image) && (major - 7 || minor - 2 || patch - 11) < 0)
        say(`image ${image} is not a Redis release of 7.2.11 or later`);
      // Production: an image is pinned by digest, the same bytes on every node and every restart.
      const tagPinned = production?.tagPinned?.includes(image.split('@')[0]?.replace(/:[^/:]*$/, '') ?? '');
      if (production && !/@sha256:[0-9a-f]{64}$/.test(image) && !tagPinned)
        say(`image ${image} is not pinned by digest`);
      // On SIGTERM a service pauses (>= 2 s, not also in a preStop hook), drains, then stops its hooks (10 s): in the grace period.
      const env = (name: string) => list(c.env).find((e) => e.name === name)?.value;
      if (env('SHUTDOWN_DELAY_MS') === undefined) continue;
      const [delay, drain] = [Number(env('SHUTDOWN_DELAY_MS')), Number(env('SHUTDOWN_DRAIN_MS') ?? 0)];
      const grace = Number(t.spec.terminationGracePeriodSeconds ?? 30) * 1000;
      if (delay < 2000) say(`SHUTDOWN_DELAY_MS ${delay} is too short a pause (< 2000)`);
      if (delay + drain + 10_000 > grace) say(`${delay} + ${drain} + 10000 ms exceeds the grace period ${grace} ms`);
      if (asObject(c.lifecycle).preStop !== undefined) say('a preStop hook doubles the pause');
    }
  }
  for (const o of objects) {
    for (const l of COMMON_LABELS.slice(0, o.kind === 'Namespace' ? 4 : 6).filter((l) => !o.metadata.labels?.[l]))
      report(o, `label ${l} is not set`);
    // Redis, and any StatefulSet's pods, never leave the cluster: no Service of theirs on a node port or load balancer.
    const [selector, type] = [k.asStringMap(asObject(o.spec).selector), String(asObject(o.spec).type)];
    const stateful = (t: k.PodTemplate) =>
      t.owner.kind === 'StatefulSet' || list(t.spec.containers).some((c) => REDIS.test(String(c.image)));
    if (o.kind === 'Service' && /^(NodePort|LoadBalancer)$/.test(type))
      for (const t of templates.filter((t) => t.namespace === k.namespaceOf(o) && k.labelsMatch(selector, t.labels)))
        if (stateful(t)) report(o, `type ${type} exposes ${k.nameOf(t.owner)} outside the cluster`);
    // Selectors (immutable on workloads) never hold a label that changes with a release or an install.
    const walk = (value: unknown, key: string): void => {
      if (Array.isArray(value)) for (const item of value) walk(item, key);
      else if (value && typeof value === 'object') {
        const text = JSON.stringify(value);
        if (/^(selector|podSelector|namespaceSelector)$/.test(key) && /version|instance|managed-by/.test(text))
          report(o, `${key} ${text} holds a version, instance or managed-by label`);
        for (const [field, v] of Object.entries(value)) walk(v, field);
      }
    };
    walk(o, '');
    // An egress rule names its ports and peers; other namespaces only for DNS (53), never an ipBlock.
    if (o.kind !== 'NetworkPolicy' || !k.guards(asObject(o.spec), 'egress')) continue;
    for (const [i, rule] of list(asObject(o.spec).egress).entries()) {
      const say = (message: string) => report(o, `egress[${i}]: ${message}`);
      const ports = list(rule.ports);
      if (ports.length === 0) say('no ports, so every port');
      if (list(rule.to).length === 0) say('no "to", so every destination');
      for (const peer of list(rule.to)) {
        if (peer.ipBlock !== undefined) say(`ipBlock ${JSON.stringify(peer.ipBlock)}`);
        if (peer.namespaceSelector !== undefined && ports.some((q) => q.port !== 53 || q.endPort !== undefined))
          say('other namespaces on a port other than DNS (53)');
      }
    }
  }
  return problems;
}
