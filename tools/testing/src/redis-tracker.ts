/**
 * Loaded into the test process by `pnpm test` (--import): remembers where each Redis connection was
 * first opened, and when the process is asked for its diagnostic report (SIGUSR2, sent when it does not
 * exit after its summary), prints the connections that were never closed, with the test code that
 * opened them. An ioredis client left open reconnects forever on a timer, which is all the report
 * itself shows of it.
 */
import { Cluster, Redis } from 'ioredis';

type Connectable = { connect: (...args: unknown[]) => Promise<void>; status: string; manuallyClosing?: boolean };

const openedAt = new Map<Connectable, string>();

for (const kind of [Redis, Cluster] as unknown as Array<{ prototype: Connectable; name: string }>) {
  const connect = kind.prototype.connect;
  kind.prototype.connect = function (this: Connectable, ...args: unknown[]) {
    if (!openedAt.has(this)) openedAt.set(this, `${kind.name} ${ourFrames(new Error().stack ?? '')}`);
    return connect.apply(this, args);
  };
}

/** The stack's frames outside node_modules and this file: the code that opened the connection. */
function ourFrames(stack: string): string {
  return (
    stack
      .split('\n')
      .slice(1)
      .filter((frame) => !frame.includes('node_modules') && !frame.includes('redis-tracker') && frame.includes('/'))
      .slice(0, 4)
      .map((frame) => frame.trim())
      .join(' < ') || '(inside ioredis)'
  );
}

process.on('SIGUSR2', () => {
  const open = [...openedAt].filter(([client]) => client.status !== 'end');
  // ioredis' own flag: set by quit() and disconnect(). One closed that way may still show a status
  // other than 'end' (closed while reconnecting); one never closed is the likelier culprit.
  const lines = open.map(
    ([client, where]) =>
      `  redis client (${client.status}${client.manuallyClosing ? ', closed by its owner' : ', never closed'}) opened at ${where}`,
  );
  process.stderr.write(`redis clients not ended: ${open.length}\n${lines.join('\n')}\n`);
});
