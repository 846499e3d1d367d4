/**
 * The services log JSON (what a container's log collector wants); `pnpm start` shows a person one
 * readable line per event instead: time, level, message and the remaining fields, through pino-pretty.
 * Lines that are not JSON (Redis's own, the stack's) pass unchanged.
 */
import { prettyFactory } from 'pino-pretty';

const pretty = prettyFactory({
  colorize: process.stdout.isTTY === true,
  translateTime: 'SYS:HH:MM:ss.l',
  // The stack already prefixes every line with the component's name.
  ignore: 'pid,hostname,service',
  singleLine: true,
});

export function readableLine(line: string): string {
  if (!line.startsWith('{')) return line;
  return pretty(line).trimEnd();
}
