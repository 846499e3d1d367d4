/**
 * What every service's main starts with: stack traces mapped to the sources, its configuration (or exit 1
 * naming the variable), its log, its metrics.
 */
import type { SnapshotSetting } from '@microbank/streams';
import { loadConfig } from './config.ts';
import { createLogger, type Logger } from './logger.ts';
import { createMetrics, type ServiceMetrics } from './metrics.ts';
import { mapStacksToSources } from './source-mapped-stacks.ts';

/** What a service's parts are handed to log and count. */
export interface ServiceContext {
  log: Logger;
  metrics: ServiceMetrics;
}

export interface ServiceBasics<Config> extends ServiceContext {
  config: Config;
}

/**
 * Reads the configuration from the environment; `nameOf` names the service in its logs and
 * metrics when the configuration says who it is (an account), else `service` does.
 */
export function serviceBasics<Config extends { logLevel: string }>(
  service: string,
  read: (env: Record<string, string | undefined>) => Config,
  nameOf: (config: Config) => string = () => service,
): ServiceBasics<Config> {
  mapStacksToSources();
  const config = loadConfig(service, () => read(process.env));
  const name = nameOf(config);
  return { config, log: createLogger(name, config.logLevel), metrics: createMetrics(name) };
}

/** The snapshot option of a projection: signed with SNAPSHOT_KEY, or off (and said so) without one. */
export function snapshotsSignedWith(snapshotKey: string | undefined, log: Logger): SnapshotSetting {
  if (snapshotKey === undefined) {
    log.info({}, 'SNAPSHOT_KEY is not set: no snapshots; every start replays the streams');
    return false;
  }
  return { secret: snapshotKey };
}
