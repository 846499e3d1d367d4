/**
 * Lua scripts, one `.lua` file each (named `<name>-<number of keys>.lua`, KEYS and ARGV described
 * in its header), loaded from beside the code: `src/scripts/` when running the sources, the
 * bundle's `scripts/` (the build copies them) when running a bundle.
 */

import { readFileSync } from 'node:fs';
import type { RedisClient } from './redis-connection.ts';

/** The text of a script file, found from the module (or bundle) at `base`. */
export function scriptText(file: string, base: string | URL): string {
  return readFileSync(new URL(`./scripts/${file}`, base), 'utf8');
}

/**
 * Defines `file` (e.g. "read-range-capped-1.lua") on `redis` under `command`, once per connection;
 * `prelude`, a file beside it, is put before its text (the checks a family of scripts shares).
 */
export function defineScript(
  redis: RedisClient,
  command: string,
  file: string,
  base: string | URL,
  prelude?: string,
): void {
  if (command in redis) return;
  const numberOfKeys = Number(/-(\d+)\.lua$/.exec(file)?.[1]);
  if (!Number.isInteger(numberOfKeys)) throw new Error(`script ${file} does not say its number of keys`);
  const text = scriptText(file, base);
  redis.defineCommand(command, { numberOfKeys, lua: prelude ? `${scriptText(prelude, base)}\n${text}` : text });
}
