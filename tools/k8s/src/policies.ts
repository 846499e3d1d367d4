/** The project's own policies beyond pod hygiene: secrets, argv, ports, Redis, accounts, claims, labels, selectors, egress, shutdown. */
import * as k from './checks.ts';

const { asArray, asObject, list } = k;
/** An official Redis image, by tag or digest. */
const REDIS = /^(docker\.io\/)?(library\/)?redis[:@]/;

/** Node-local DNS (NodeLocal DNSCache): the one address an egress rule may name by ipBlock. */
const NODE_LOCAL_DNS = JSON.stringify({ cidr: '169.254.20.10/32' });
/** Env names that hold a credential. */
const SECRET_LIKE = /PASSWORD|SECRET|TOKEN|AUTH|(^|_)KEY$/;
/** The recommended labels (kubernetes.io common labels); a Namespace carries the first four. */
const LABELS = ['part-of', 'instance', 'version', 'managed-by', 'name', 'component'];
const COMMON_LABELS = LABELS.map((l) => `app.kubernetes.io/${l}`);
const VERSION = 'app.kubernetes.io/version';
/** A size in bytes, a Kubernetes quantity (Mi, Gi) or a Redis one (mb, gb): near enough for a ratio. */
const bytes = (size: unknown, [, n, unit] = /^(\d+)([kmg]?)/i.exec(String(size)) ?? []) =>
  Number(n) * 1024 ** ' kmg'.indexOf(unit?.toLowerCase() || ' ');

/** Production's policies: images by digest (but those named in tagPinned, without tag), PodDisruptionBudgets. */
export type Production = { tagPinned?: readonly string[] };

/** Every problem of the project's policies in a render, each `Kind/name: message`; production's when asked. */
export function checkPolicies(objects: readonly k.K8sObject[], production?: Production): string[] {
  const { problems, report } = k.problemList();
  const templates = k.podTemplates(objects);
  const { find } = k.indexObjects(objects);
  for (const t of templates) {
    const replicas = Number(asObject(t.owner.spec).replicas ?? 1);
    // An account is a single writer of its stream: one pod, and a rollout stops the old pod before the new starts.
    if (list(t.spec.containers).some((c) => list(c.env).some((e) => e.name === 'ACCOUNT_NAME'))) {
      if (replicas !== 1) report(t.owner, `an account is a single writer: ${replicas} replicas`);
      if (asObject(asObject(t.owner.spec).strategy).type !== 'Recreate')
        report(t.owner, 'an account is a single writer: strategy must be Recreate');
    }
    // Production: a Deployment of several replicas has a PodDisruptionBudget (a node drain takes one pod at a time).
    const budgets = objects.filter((b) => b.kind === 'PodDisruptionBudget' && k.namespaceOf(b) === t.namespace);
    const budgeted = budgets.some((b) => k.selectorMatches(asObject(asObject(b.spec).selector), t.labels));
    if (production && t.owner.kind === 'Deployment' && replicas > 1 && !budgeted)
      report(t.owner, `${replicas} replicas and no PodDisruptionBudget selects its pods`);
    // Every pod template carries its owner's recommended labels; a Job's, no version: its template is immutable, so a
    // label that changes with every release would make every upgrade fail.
    const job = t.owner.kind === 'Job';
    for (const l of COMMON_LABELS.filter(
      (l) => t.labels[l] !== (job && l === VERSION ? undefined : t.owner.metadata.labels?.[l]),
    ))
      report(
        t.owner,
        `the pod template's label ${l} ${job && l === VERSION ? 'is set on a Job' : "differs from the object's"}`,
      );
    for (const c of [...list(t.spec.initContainers), ...list(t.spec.containers)]) {
      const say = (message: string) => report(t.owner, `container ${String(c.name)}: ${message}`);
      // A password, key or token is read from a Secret (a secretKeyRef, not optional), never written as a literal.
      if (c.envFrom !== undefined) say('envFrom hides what is read; name each variable');
      for (const e of list(c.env)) {
        const ref = asObject(e.valueFrom).secretKeyRef;
        if (SECRET_LIKE.test(String(e.name)) && (ref === undefined || e.value !== undefined))
          say(`env ${String(e.name)} must come from a secretKeyRef`);
        if (asObject(ref).optional === true) say(`env ${String(e.name)}: a secretKeyRef must not be optional`);
        // A URL's password (scheme://user:password@host; a Redis URL has one) is $(VAR) of a variable from a Secret;
        // in each URL of a list (Redis Cluster seeds).
        for (const url of String(e.value ?? '').split(',')) {
          const password = /^[a-z][a-z0-9+.-]*:\/\/[^:@/]*:([^@/]+)@/.exec(url)?.[1];
          const from = list(c.env).find((v) => `$(${String(v.name)})` === password)?.valueFrom;
          if ((password || /^rediss?:\/\//.test(url)) && !asObject(from).secretKeyRef)
            say(`env ${String(e.name)}: a URL's password must be $(VAR) of a secretKeyRef, not a literal or none`);
        }
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
      // A Redis image running redis-server (its default command, or one that names it); redis-cli alone is a client.
      const argv = [...asArray(c.command), ...asArray(c.args)].join(' ');
      if (REDIS.test(image) && (major - 7 || minor - 2 || patch - 11) < 0)
        say(`image ${image} is not a Redis release of 7.2.11 or later`);
      if (REDIS.test(image) && (!c.command || argv.includes('redis-server'))) {
        // Redis is durable: its AOF on, fsynced before every reply, in a directory on its volume claim (any file of
        // its ConfigMaps that sets one of these sets it so); maxmemory about half its limit, as an AOF rewrite forks.
        const maps = list(t.spec.volumes).map((v) => find('ConfigMap', t.namespace, `${asObject(v.configMap).name}`));
        const conf = maps.flatMap((m) => Object.values(asObject(m?.data))).join('\n');
        const values = (key: string) => [...conf.matchAll(new RegExp(`^${key} +(\\S+)`, 'gm'))].map((m) => `${m[1]}`);
        const claims = list(asObject(t.owner.spec).volumeClaimTemplates).map((v) => asObject(v.metadata).name);
        const dirs = list(c.volumeMounts).flatMap((m) => (claims.includes(m.name) ? [String(m.mountPath)] : []));
        for (const [key, allowed] of Object.entries({ appendonly: ['yes'], appendfsync: ['always'], dir: dirs }))
          if (values(key).length === 0 || values(key).some((v) => !allowed.includes(v)))
            say(`Redis ${key} must be ${allowed.join(' or ') || 'on a volume claim'}, not ${values(key).join(', ')}`);
        // A Redis Cluster primary refuses writes when no replica has kept up: what a failover would lose is never accepted.
        if (values('cluster-enabled').includes('yes') && !(Number(values('min-replicas-to-write').at(-1)) >= 1))
          say(
            `Redis Cluster min-replicas-to-write must be 1 or more, not ${values('min-replicas-to-write').join(', ')}`,
          );
        const [maxmemory, limit] = [values('maxmemory').at(-1), asObject(asObject(c.resources).limits).memory];
        const ratio = bytes(maxmemory) / bytes(limit);
        if (!(ratio >= 0.4 && ratio <= 0.55)) say(`Redis maxmemory ${maxmemory} is not about half its limit ${limit}`);
        // `exec`: redis-server replaces the shell, so it gets the SIGTERM (then fsyncs and exits).
        if (c.command && !/(^|exec )redis-server\b/.test(argv)) say(`redis-server is not exec'd: ${argv}`);
      }
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
  // Deleting the render (kubectl delete -k, apply --prune) never deletes a volume claim: no Namespace beside the claims
  // (deleting a Namespace deletes all in it; k8s/namespace is applied apart), no claim as an object of the render, and
  // a StatefulSet that keeps its claims when deleted or scaled down.
  for (const o of objects) {
    const spec = asObject(o.spec);
    const owns = o.kind === 'PersistentVolumeClaim' || list(spec.volumeClaimTemplates).length > 0;
    const ns = objects.find((n) => n.kind === 'Namespace' && n.metadata.name === k.namespaceOf(o));
    if (owns && ns) report(ns, `deleting this render deletes the namespace, and with it the claims of ${k.nameOf(o)}`);
    if (o.kind === 'PersistentVolumeClaim')
      report(o, 'deleting this render deletes the claim: use volumeClaimTemplates');
    const retention = asObject(spec.persistentVolumeClaimRetentionPolicy);
    if (owns && o.kind === 'StatefulSet' && (retention.whenDeleted !== 'Retain' || retention.whenScaled !== 'Retain'))
      report(o, 'persistentVolumeClaimRetentionPolicy must be Retain whenDeleted and whenScaled');
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
    // An egress rule names its ports and peers; other namespaces only for DNS (53), and one ipBlock: node-local DNS.
    // No peer only towards the Kubernetes API (443, 6443), which no selector names, and only for pods with a token.
    if (o.kind !== 'NetworkPolicy' || !k.guards(asObject(o.spec), 'egress')) continue;
    const selected = templates.filter(
      (t) => t.namespace === k.namespaceOf(o) && k.selectorMatches(asObject(asObject(o.spec).podSelector), t.labels),
    );
    for (const [i, rule] of list(asObject(o.spec).egress).entries()) {
      const say = (message: string) => report(o, `egress[${i}]: ${message}`);
      const ports = list(rule.ports);
      const dnsOnly = ports.every((q) => q.port === 53 && q.endPort === undefined);
      const apiOnly = ports.every((q) => (q.port === 443 || q.port === 6443) && q.protocol === 'TCP');
      if (ports.length === 0) say('no ports, so every port');
      const tokens = selected.every((t) => t.spec.automountServiceAccountToken === true);
      if (list(rule.to).length === 0 && !(apiOnly && tokens)) say('no "to", so every destination');
      for (const peer of list(rule.to)) {
        if (peer.ipBlock !== undefined && !(NODE_LOCAL_DNS === JSON.stringify(peer.ipBlock) && dnsOnly))
          say(`ipBlock ${JSON.stringify(peer.ipBlock)}`);
        if (peer.namespaceSelector !== undefined && !dnsOnly) say('other namespaces on a port other than DNS (53)');
      }
    }
  }
  // A default deny: every pod's ingress and egress are guarded by some NetworkPolicy, so only what a rule lets through passes.
  const policies = objects.filter((o) => o.kind === 'NetworkPolicy').map((o) => ({ o, spec: asObject(o.spec) }));
  for (const t of templates)
    for (const direction of ['ingress', 'egress'] as const)
      if (
        !policies.some(
          ({ o, spec }) =>
            k.namespaceOf(o) === t.namespace &&
            k.selectorMatches(asObject(spec.podSelector), t.labels) &&
            k.guards(spec, direction),
        )
      )
        report(t.owner, `no NetworkPolicy guards its ${direction}: everything may pass`);
  return problems;
}
