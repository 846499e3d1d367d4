/** Configuration from the environment, validated at start; a bad value stops the process naming the variable. */
import { z } from 'zod';

export class ConfigError extends Error {}

const required = (what: string) => ({
  error: (issue: { input: unknown }) => (issue.input === undefined ? 'is required' : `must be ${what}`),
});

/** REDIS_URL: `redis://[:password@]host:port[/db]` (or `rediss://` for TLS). */
export const redisUrlVar = z.string(required('a redis:// URL')).refine((value) => {
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
}, 'must look like redis://[:password@]host:port');

/** A TCP port; 0 asks the system for a free one (tests use that). */
export const portVar = z
  .string(required('a port number'))
  .regex(/^\d{1,5}$/, 'must be a port number 0-65535')
  .transform(Number)
  .refine((port) => port <= 65535, 'must be a port number 0-65535');

export const logLevelVar = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info');

/** A positive whole number of milliseconds with a default. */
export const millisecondsVar = (fallback: number) =>
  z
    .string()
    .regex(/^[1-9]\d{0,6}$/, 'must be a whole number of milliseconds, 1-9999999')
    .transform(Number)
    .default(fallback);

/** The variables every service reads. */
export const serviceEnv = {
  REDIS_URL: redisUrlVar,
  PORT: portVar,
  LOG_LEVEL: logLevelVar,
};

/** Parses `env` with `shape`; throws a ConfigError listing each bad variable by name. */
export function parseConfig<Shape extends z.ZodRawShape>(
  shape: Shape,
  env: Record<string, string | undefined> = process.env,
): z.infer<z.ZodObject<Shape>> {
  const result = z.object(shape).safeParse(env);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const name = String(issue.path[0] ?? 'environment');
    const value = env[name];
    const shown =
      value === undefined ? '' : ` (got ${JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value)})`;
    return `${name} ${issue.message}${shown}`;
  });
  throw new ConfigError(`invalid configuration: ${problems.join('; ')}`);
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
