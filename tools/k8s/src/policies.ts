/** The project's own policies beyond pod hygiene: secrets, argv, ports, images, labels, selectors, egress, shutdown. */

import { guards } from './checks.ts';
import { asObject, type Json, type K8sObject, objects as list, nameOf, podTemplates } from './k8s-object.ts';

/** A policy: every problem it finds in a render, each `Kind/name: message`. */
type Policy = (objects: readonly K8sObject[]) => string[];

const SECRET_LIKE = /PASSWORD|SECRET|TOKEN|AUTH|(^|_)KEY$/;
/** The recommended labels (kubernetes.io common labels) every object and pod template carries. */
const COMMON_LABELS = ['part-of', 'instance', 'version', 'managed-by', 'name', 'component'].map(
  (k) => `app.kubernetes.io/${k}`,
);

/** Every container of every pod template, named for messages, with its pod. */
function eachContainer(objects: readonly K8sObject[]): { where: string; c: Json; pod: Json; owner: K8sObject }[] {
  return podTemplates(objects).flatMap((t) =>
    [...list(t.spec.initContainers), ...list(t.spec.containers)].map((c) => ({
      where: `${nameOf(t.owner)}: container ${String(c.name)}`,
      c,
      pod: t.spec,
      owner: t.owner,
    })),
  );
}

export const POLICIES: Record<string, Policy> = {
  /** A password, key or token is read from a Secret (secretKeyRef, not optional), never written as a literal. */
  secretsFromSecretKeyRefs: (objects) =>
    eachContainer(objects).flatMap(({ where, c }) => [
      ...(c.envFrom !== undefined ? [`${where}: envFrom hides what is read; name each variable`] : []),
      ...list(c.env).flatMap((e) => {
        const ref = asObject(e.valueFrom).secretKeyRef;
        if (SECRET_LIKE.test(String(e.name)) && (ref === undefined || e.value !== undefined))
          return [`${where}: env ${String(e.name)} must come from a secretKeyRef`];
        return asObject(ref).optional === true
          ? [`${where}: env ${String(e.name)}: a secretKeyRef must not be optional`]
          : [];
      }),
    ]),
  /** No password on a command line (argv is visible in ps and the API): redis-cli -a/--pass/--user, --requirepass. */
  noSecretsInArgv: (objects) =>
    eachContainer(objects).flatMap(({ where, c }) => {
      const probes = ['startupProbe', 'readinessProbe', 'livenessProbe'].map(
        (p) => asObject(asObject(c[p]).exec).command,
      );
      return [c.command, c.args, ...probes]
        .map((argv) => (Array.isArray(argv) ? argv.join(' ') : ''))
        .filter((cmd) => /(^|\s)(-a|--pass|--user)\s|--requirepass/.test(cmd))
        .map((cmd) => `${where}: a password flag in argv: ${cmd}`);
    }),
  /** Containers listen on unprivileged ports (they run as non-root with no capabilities). */
  unprivilegedPorts: (objects) =>
    eachContainer(objects).flatMap(({ where, c }) =>
      list(c.ports)
        .filter((p) => Number(p.containerPort) < 1024)
        .map((p) => `${where}: containerPort ${String(p.containerPort)} is privileged (< 1024)`),
    ),
  /** Redis is 7.2.11 or later (the first 7.2 with CVE-2025-49844 and CVE-2025-46817/46818/46819 fixed), pinned to a release. */
  patchedRedis: (objects) =>
    eachContainer(objects).flatMap(({ where, c }) => {
      const image = String(c.image);
      if (!/^(docker\.io\/)?(library\/)?redis[:@]/.test(image)) return [];
      const [major = -1, minor = 0, patch = 0] = /^[^:]+:(\d+)\.(\d+)\.(\d+)/.exec(image)?.slice(1).map(Number) ?? [];
      const cmp = major - 7 || minor - 2 || patch - 11;
      return cmp < 0 ? [`${where}: image ${image} is not a Redis release of 7.2.11 or later`] : [];
    }),
  /** Every object carries the recommended labels; every pod template carries its owner's. */
  recommendedLabels: (objects) => [
    ...objects.flatMap((o) => {
      const wanted = o.kind === 'Namespace' ? COMMON_LABELS.slice(0, 4) : COMMON_LABELS;
      return wanted.filter((k) => !o.metadata.labels?.[k]).map((k) => `${nameOf(o)}: label ${k} is not set`);
    }),
    ...podTemplates(objects).flatMap((t) =>
      COMMON_LABELS.filter((k) => t.labels[k] !== t.owner.metadata.labels?.[k]).map(
        (k) => `${nameOf(t.owner)}: the pod template's label ${k} differs from the object's`,
      ),
    ),
  ],
  /** Selectors (immutable on workloads) never hold a label that changes with a release or an install. */
  stableSelectors: (objects) => {
    const problems: string[] = [];
    const walk = (o: K8sObject, value: unknown, key: string): void => {
      if (Array.isArray(value)) for (const item of value) walk(o, item, key);
      else if (value && typeof value === 'object') {
        const text = JSON.stringify(value);
        if (/^(selector|podSelector|namespaceSelector)$/.test(key) && /version|instance|managed-by/.test(text))
          problems.push(`${nameOf(o)}: ${key} ${text} holds a version, instance or managed-by label`);
        for (const [k, v] of Object.entries(value)) walk(o, v, k);
      }
    };
    for (const o of objects) walk(o, o, '');
    return problems;
  },
  /** An egress rule names its ports and peers; other namespaces only for DNS (53), never an ipBlock. */
  narrowEgress: (objects) =>
    objects
      .filter((p) => p.kind === 'NetworkPolicy' && guards(asObject(p.spec), 'egress'))
      .flatMap((p) =>
        list(asObject(p.spec).egress).flatMap((rule, i) => {
          const at = `${nameOf(p)}: egress[${i}]`;
          const ports = list(rule.ports);
          return [
            ...(ports.length === 0 ? [`${at}: no ports, so every port`] : []),
            ...(list(rule.to).length === 0 ? [`${at}: no "to", so every destination`] : []),
            ...list(rule.to).flatMap((peer) => [
              ...(peer.ipBlock !== undefined ? [`${at}: ipBlock ${JSON.stringify(peer.ipBlock)}`] : []),
              ...(peer.namespaceSelector !== undefined && ports.some((q) => q.port !== 53 || q.endPort !== undefined)
                ? [`${at}: other namespaces on a port other than DNS (53)`]
                : []),
            ]),
          ];
        }),
      ),
  /** SIGTERM: the service pauses (SHUTDOWN_DELAY_MS >= 2 s, no preStop hook), drains, and stops hooks (10 s) within the grace period. */
  gracefulShutdown: (objects) =>
    eachContainer(objects).flatMap(({ where, c, pod }) => {
      const env = (name: string) => list(c.env).find((e) => e.name === name)?.value;
      if (env('SHUTDOWN_DELAY_MS') === undefined) return [];
      const [delay, drain] = [Number(env('SHUTDOWN_DELAY_MS')), Number(env('SHUTDOWN_DRAIN_MS') ?? 0)];
      const grace = Number(pod.terminationGracePeriodSeconds ?? 30) * 1000;
      return [
        ...(delay >= 2000 ? [] : [`${where}: SHUTDOWN_DELAY_MS ${delay} is too short a pause (< 2000)`]),
        ...(delay + drain + 10_000 <= grace
          ? []
          : [`${where}: ${delay} + ${drain} + 10000 ms exceeds the grace period ${grace} ms`]),
        ...(asObject(c.lifecycle).preStop === undefined ? [] : [`${where}: a preStop hook doubles the pause`]),
      ];
    }),
};

/** Every problem every project policy finds. */
export const checkPolicies: Policy = (objects) => Object.values(POLICIES).flatMap((policy) => policy(objects));
