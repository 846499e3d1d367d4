/**
 * A connection of the chaos tool's own to the stack's Redis: the single Redis, or a cluster client
 * on every node of the stack's Redis Cluster. The tool's reads (the check) ask no replica to confirm
 * anything; the registration load asks what the services ask (`confirm`), so that what it counts as
 * acknowledged is what the bank would acknowledge.
 */
import type { StackPlan } from '@microbank/local-stack';
import { type Confirmation, connectRedis, NOT_CONFIRMED, type RedisClient, silentLog } from '@microbank/streams';

/** The confirmation the stack's services ask on a cluster (REDIS_CONFIRM_REPLICAS=1, the default timeout). */
export const SERVICES_CONFIRMATION: Confirmation = { replicas: 1, timeoutMs: 1_000 };

export function connectStackRedis(plan: StackPlan, name: string, confirm: Confirmation = NOT_CONFIRMED): RedisClient {
  if (!plan.redisCluster) return connectRedis(plan.redisUrl, name, silentLog);
  const urls = plan.redisCluster.nodes.map((node) => `redis://127.0.0.1:${node.port}`);
  return connectRedis({ urls, cluster: true, confirm }, name, silentLog);
}
