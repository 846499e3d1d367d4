/**
 * Watches every component the way a person would want to see it: Redis (its run_id to see a
 * restart; on a cluster, every node with its role and slots, cluster-nodes.ts), each service (its /healthz for who runs, its /readyz for how it is: ready,
 * catching up, failed, diverged, or down when it does not answer), and the transfer processors
 * (alive by their presence, with what each holds in the saga's group). One poll for
 * the whole dashboard, however many pages are open.
 */

import { PROCESSORS_GROUP, processorsPresenceKey, transfersKey } from '@microbank/events';
import { errorMessage, isCluster, type Log, livePresence, type RedisClient, untilReady } from '@microbank/streams';
import type { Cluster } from 'ioredis';
import { type ClusterChange, clusterChanges, readClusterNodes, slotsWithoutPrimary } from './cluster-nodes.ts';
import type { WatchedComponent } from './config.ts';
import type { ComponentView, Health, RedisNodeView } from './sections.ts';

export interface Transition {
  at: number;
  component: string;
  from: Health | 'unknown';
  to: Health;
  /** A new process took over (it restarted), whatever the health. */
  restarted: boolean;
}

const ASK_TIMEOUT_MS = 800;
/** A processor down this long is no longer shown (its name stays in the group until deleted). */
const PROCESSOR_FORGOTTEN_AFTER_MS = 120_000;

export interface ComponentWatch {
  views(): ComponentView[];
  /**
   * `name` was just killed (a chaos tool said so): shown down at once, and for a moment at least,
   * however fast it comes back; the next look then sees it back (and restarted).
   */
  markDown(name: string, reason: string): void;
  stop(): void;
}

/** How long a component reported killed stays shown down before it is looked at again. */
const SHOWN_DOWN_MS = 1_000;

export function watchComponents(options: {
  components: readonly WatchedComponent[];
  redis: RedisClient;
  log: Log;
  intervalMs?: number;
  onTransition: (transition: Transition) => void;
  /** A Redis Cluster's failover, or one of its nodes down or back. */
  onClusterChange?: (change: ClusterChange, at: number) => void;
  onChange: () => void;
}): ComponentWatch {
  const { components, redis, onTransition, onChange } = options;
  const views = new Map<string, ComponentView & { identity?: string; seenUp?: boolean }>();
  let stopped = false;
  const heldDown = new Map<string, number>();
  const held = (name: string) => (heldDown.get(name) ?? 0) > Date.now();

  function record(
    name: string,
    kind: ComponentView['kind'],
    next: Omit<ComponentView, 'name' | 'kind' | 'restarts' | 'since'>,
    identity?: string,
  ) {
    const previous = views.get(name);
    // A component that was never up (the dashboard started first) has not restarted when it comes up.
    const restarted =
      previous?.seenUp === true &&
      ((identity !== undefined && previous.identity !== undefined && identity !== previous.identity) ||
        (previous.health === 'down' && next.health !== 'down'));
    const changed = previous === undefined || previous.health !== next.health || restarted;
    const view = {
      name,
      kind,
      ...next,
      restarts: (previous?.restarts ?? 0) + (restarted ? 1 : 0),
      since: changed ? Date.now() : (previous?.since ?? Date.now()),
      identity: identity ?? previous?.identity,
      seenUp: previous?.seenUp === true || next.health !== 'down',
    };
    views.set(name, view);
    if (previous === undefined || changed) {
      onTransition({
        at: Date.now(),
        component: name,
        from: previous?.health ?? 'unknown',
        to: next.health,
        restarted,
      });
    }
    if (JSON.stringify(previous) !== JSON.stringify(view)) onChange();
  }

  async function askService({ name, url }: WatchedComponent): Promise<void> {
    if (held(name)) return;
    try {
      const signal = AbortSignal.timeout(ASK_TIMEOUT_MS);
      const [health, ready] = await Promise.all([
        fetch(`${url}/healthz`, { signal }),
        fetch(`${url}/readyz`, { signal }),
      ]);
      const alive = (await health.json()) as { instance?: string; startedAt?: string };
      const body = (await ready.json()) as { message?: string; position?: string };
      record(
        name,
        'service',
        {
          health: healthOf(ready.status, body.message),
          reason: ready.ok ? undefined : body.message,
          position: body.position,
        },
        `${alive.instance}@${alive.startedAt}`,
      );
    } catch {
      record(name, 'service', { health: 'down' });
    }
  }

  /** The cluster's nodes at the last look, and the node that told. */
  let clusterSeen: { nodes: RedisNodeView[]; via: string } | undefined;

  async function askCluster(cluster: Cluster): Promise<void> {
    try {
      const seen = await readClusterNodes(cluster, clusterSeen?.via, ASK_TIMEOUT_MS);
      const at = Date.now();
      for (const change of clusterChanges(clusterSeen?.nodes ?? [], seen.nodes)) options.onClusterChange?.(change, at);
      clusterSeen = seen;
      const uncovered = slotsWithoutPrimary(seen.nodes);
      record('redis', 'redis', {
        health: uncovered === 0 ? 'ready' : 'not-ready',
        reason: uncovered === 0 ? undefined : `${uncovered} slots have no primary up`,
        nodes: seen.nodes,
      });
    } catch (error) {
      // What the nodes were last seen as stays shown: the tile says none answers.
      record('redis', 'redis', { health: 'down', reason: errorMessage(error), nodes: clusterSeen?.nodes });
    }
  }

  async function askRedis(): Promise<void> {
    if (isCluster(redis)) return askCluster(redis);
    try {
      // A command sent before the connection is ready is refused at once (offline queue off): on a
      // connection just made, or reconnecting, give it the ask's time first, so that a Redis that
      // is up is not shown down at each start (and then "back" in the timeline).
      if (redis.status !== 'ready') {
        const status = redis.status;
        await untilReady(redis, AbortSignal.timeout(ASK_TIMEOUT_MS)).catch(() => {
          throw new Error(`no connection to Redis (${status})`);
        });
      }
      const info = await redis.info('server');
      record('redis', 'redis', { health: 'ready' }, /run_id:(\w+)/.exec(info)?.[1]);
    } catch (error) {
      record('redis', 'redis', { health: 'down', reason: errorMessage(error) });
    }
  }

  /** The processors alive by their presence, with what each holds in the group; gone ones shown down, then forgotten. */
  async function askProcessors(): Promise<void> {
    let live: string[];
    const pending = new Map<string, number>();
    try {
      live = (await livePresence(redis, processorsPresenceKey())).map(({ instance }) => instance);
      const consumers = (await redis
        .xinfo('CONSUMERS', transfersKey(), PROCESSORS_GROUP)
        .catch(() => [])) as unknown[][];
      for (const consumer of consumers) {
        pending.set(String(consumer[consumer.indexOf('name') + 1]), Number(consumer[consumer.indexOf('pending') + 1]));
      }
    } catch {
      return; // Redis away: its own tile says so
    }
    for (const consumer of live) {
      record(`processor ${consumer}`, 'processor', { health: 'ready', pending: pending.get(consumer) ?? 0 });
    }
    for (const [name, view] of views) {
      if (view.kind !== 'processor' || live.includes(name.slice('processor '.length))) continue;
      if (view.health === 'down' && Date.now() - view.since > PROCESSOR_FORGOTTEN_AFTER_MS) {
        views.delete(name);
        onChange();
      } else {
        record(name, 'processor', { health: 'down', pending: pending.get(name.slice('processor '.length)) ?? 0 });
      }
    }
  }

  // Runs until stop(); each pass catches its own errors.
  void (async () => {
    while (!stopped) {
      const started = performance.now();
      await Promise.all([askRedis(), askProcessors(), ...components.map(askService)]).catch((error) =>
        options.log.warn({ err: errorMessage(error) }, 'watching the components failed'),
      );
      const wait = (options.intervalMs ?? 500) - (performance.now() - started);
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    }
  })();

  return {
    markDown(name, reason) {
      const known = views.get(name);
      if (known?.kind !== 'service') return;
      heldDown.set(name, Date.now() + SHOWN_DOWN_MS);
      record(name, 'service', { health: 'down', reason });
    },
    views: () => [...views.values()].map(({ identity: _, seenUp: __, ...view }) => view),
    stop() {
      stopped = true;
    },
  };
}

/** What a /readyz answer says about a service. */
export function healthOf(status: number, message: string | undefined): Health {
  if (status === 200) return 'ready';
  const text = message ?? '';
  if (/catching up|waiting for Redis|not registered yet/.test(text)) return 'catching-up';
  if (/lost data/.test(text)) return 'diverged';
  if (/cannot read the stream|cannot be stored/.test(text)) return 'failed';
  return 'not-ready';
}
