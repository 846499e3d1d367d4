/** Configuration from the environment, validated at start; a bad value stops the process naming the variable. */
import { CONFIRM_TIMEOUT_MS, defaultConfirmation, type RedisSettings } from '@microbank/streams';
import * as z from 'zod';

export class ConfigError extends Error {}

const required = (what: string) => ({
  error: (issue: { input: unknown }) => (issue.input === undefined ? 'is required' : `must be ${what}`),
});

/** One Redis URL: `redis://[:password@]host:port[/db]` (or `rediss://` for TLS). */
function isRedisUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return (
      (url.protocol === 'redis:' || url.protocol === 'rediss:') &&
      url.hostname !== '' &&
      /^(\/\d{0,2})?$/.test(url.pathname)
    );
  } catch {
    return false;
  }
}

/**
 * REDIS_URL: `redis://[:password@]host:port[/db]` (or `rediss://` for TLS); on a cluster
 * (REDIS_CLUSTER=true), one or more seed nodes, comma-separated. Read as the list of URLs.
 */
export const redisUrlVar = z
  .string(required('a redis:// URL'))
  .refine((value) => value.split(',').every(isRedisUrl), 'must look like redis://[:password@]host:port')
  .transform((value) => value.split(','));

/** A TCP port; 0 asks the system for a free one (tests use that). */
export const portVar = z
  .string(required('a port number'))
  .regex(/^\d{1,5}$/, 'must be a port number 0-65535')
  .transform(Number)
  .refine((port) => port <= 65535, 'must be a port number 0-65535');

export const logLevelVar = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info');

/**
 * A whole number of up to `digits` digits (of `unit`, when it has one) with a default: from 1, or
 * from 0 where none is a choice (a pause).
 */
export const wholeNumberVar = (fallback: number, digits: number, unit?: string, least: 0 | 1 = 1) =>
  z
    .string()
    .regex(
      new RegExp(least === 1 ? `^[1-9]\\d{0,${digits - 1}}$` : `^\\d{1,${digits}}$`),
      `must be a whole number${unit ? ` of ${unit},` : ''} ${least}-${'9'.repeat(digits)}`,
    )
    .transform(Number)
    .default(fallback);

/** A whole number of milliseconds with a default: from 1, or from 0 where none is a choice (a pause). */
export const millisecondsVar = (fallback: number, least: 0 | 1 = 1) =>
  wholeNumberVar(fallback, 7, 'milliseconds', least);

/** The shortest SNAPSHOT_KEY taken: 32 characters (e.g. `openssl rand -hex 32` gives 64). */
const SNAPSHOT_KEY_MIN_LENGTH = 32;

/**
 * SNAPSHOT_KEY: the secret snapshots are signed with (an HMAC). Optional: without it the services
 * neither write nor read snapshots and always replay the streams.
 */
export const snapshotKeyVar = z
  .string()
  .min(SNAPSHOT_KEY_MIN_LENGTH, `must be at least ${SNAPSHOT_KEY_MIN_LENGTH} characters (a random secret)`)
  .optional();

/** Variables whose values are never printed, not even in a configuration error. */
const SECRETS = new Set(['SNAPSHOT_KEY']);

/** The variables every service reads. */
export const serviceEnv = {
  REDIS_URL: redisUrlVar,
  /** REDIS_URL names Redis Cluster seed nodes. */
  REDIS_CLUSTER: z.enum(['true', 'false'], 'must be true or false').default('false'),
  /**
   * How many replicas confirm each write the bank acknowledges (WAIT); 0 switches that off. By
   * default 1 on a cluster, 0 on a single Redis (which has no replica).
   */
  REDIS_CONFIRM_REPLICAS: z
    .string()
    .regex(/^\d$/, 'must be a whole number of replicas, 0-9')
    .transform(Number)
    .optional(),
  /** How long a write waits for its replicas before its outcome is answered as indeterminate. */
  REDIS_CONFIRM_TIMEOUT_MS: millisecondsVar(CONFIRM_TIMEOUT_MS),
  PORT: portVar,
  LOG_LEVEL: logLevelVar,
  /** How long a stopping service keeps accepting connections (Kubernetes takes it out of the endpoints meanwhile). */
  SHUTDOWN_DELAY_MS: millisecondsVar(0, 0),
  /** How long a stopping service waits for requests under way before closing the connections left. */
  SHUTDOWN_DRAIN_MS: millisecondsVar(5_000, 0),
};

/** serviceEnv's variables, parsed. */
type CommonVars = z.infer<z.ZodObject<typeof serviceEnv>>;

/** What every service's configuration holds, from serviceEnv's variables. */
export function commonSettings(vars: CommonVars) {
  const cluster = vars.REDIS_CLUSTER === 'true';
  if (!cluster && vars.REDIS_URL.length > 1) {
    throw new ConfigError(
      "invalid configuration: REDIS_URL names several nodes: a Redis Cluster's, with REDIS_CLUSTER=true",
    );
  }
  // The cluster client reaches every node it finds with the first seed's scheme and credentials.
  const access = (url: string) => {
    const { protocol, username, password } = new URL(url);
    return `${protocol}${username}:${password}`;
  };
  if (new Set(vars.REDIS_URL.map(access)).size > 1) {
    throw new ConfigError(
      'invalid configuration: REDIS_URL seeds must share one scheme (redis:// or rediss://), user and password',
    );
  }
  const redis: RedisSettings = {
    urls: vars.REDIS_URL,
    cluster,
    confirm: {
      replicas: vars.REDIS_CONFIRM_REPLICAS ?? defaultConfirmation(cluster).replicas,
      timeoutMs: vars.REDIS_CONFIRM_TIMEOUT_MS,
    },
  };
  return {
    redis,
    port: vars.PORT,
    logLevel: vars.LOG_LEVEL,
    shutdown: { delayMs: vars.SHUTDOWN_DELAY_MS, drainMs: vars.SHUTDOWN_DRAIN_MS },
  };
}

export type CommonSettings = ReturnType<typeof commonSettings>;

/** A service's settings, each named beside the variable it is read from and that variable's schema. */
export type SettingsTable = Record<string, readonly [variable: string, schema: z.ZodType]>;

/** The settings `table` describes, each typed as its schema's output. */
export type Settings<Table extends SettingsTable> = { [Setting in keyof Table]: z.output<Table[Setting][1]> };

/**
 * A service's configuration: commonSettings from serviceEnv's variables, plus each setting of
 * `table` read from its variable. Throws a ConfigError listing each bad variable by name.
 */
export function readSettings<Table extends SettingsTable>(
  env: Record<string, string | undefined>,
  table: Table,
): CommonSettings & Settings<Table> {
  const vars: CommonVars & Record<string, unknown> = parseConfig(
    { ...serviceEnv, ...Object.fromEntries(Object.values(table)) },
    env,
  );
  const settings = Object.fromEntries(Object.entries(table).map(([setting, [variable]]) => [setting, vars[variable]]));
  return { ...commonSettings(vars), ...(settings as Settings<Table>) };
}

/** Parses `env` with `shape`; throws a ConfigError listing each bad variable by name. */
export function parseConfig<Shape extends z.ZodRawShape>(
  shape: Shape,
  env: Record<string, string | undefined> = process.env,
): z.infer<z.ZodObject<Shape>> {
  const result = z.object(shape).safeParse(env);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const name = String(issue.path[0] ?? 'environment');
    return `${name} ${issue.message}${shownValue(name, env[name])}`;
  });
  throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
}

/** What a configuration error may quote of a value: nothing of a secret, no password of a URL. */
function shownValue(name: string, value: string | undefined): string {
  if (value === undefined) return '';
  if (SECRETS.has(name)) return ` (got ${value.length} characters, not shown)`;
  const hidden = withoutPassword(value);
  const clipped = hidden.length > 80 ? `${hidden.slice(0, 80)}…` : hidden;
  return ` (got ${JSON.stringify(clipped)})`;
}

/**
 * A URL's user-info replaced by "***" (anything that looks like one, parseable or not): all up to
 * the last `@` goes but a leading scheme, so that a list of URLs, one without a scheme before one
 * with a password, or a password holding a `/` or a `,`, shows none of it.
 */
export function withoutPassword(text: string): string {
  return text.replace(/^([a-z][a-z0-9+.-]*:\/\/)?.*@/is, '$1***@');
}

/** For a service's main: runs `read`, and on a ConfigError prints it and exits 1 instead of throwing. */
export function loadConfig<T>(service: string, read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${service}: ${error.message}\n`);
    process.exit(1);
  }
}
