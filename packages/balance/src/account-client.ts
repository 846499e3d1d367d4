/**
 * Asks an account's own service for its balance, and nothing more: an allowed URL only
 * (account-url-policy.ts), no redirect followed, at most a few hundred bytes read, one deadline
 * over the whole exchange (connect, headers, body), kept-alive connections. Asks to one account
 * are limited in number; beyond that they wait in a bounded queue, and beyond the queue they are
 * refused at once (Busy) rather than piling up in memory.
 */
import http from 'node:http';
import https from 'node:https';
import pLimit, { type LimitFunction } from 'p-limit';
import * as z from 'zod';

const balanceReply = z.object({ balance: z.number().finite() });

/** Why an account did not give its balance: for the log, never for the client. */
export class AccountUnavailable extends Error {}

/** Too many asks of one account (or in all) are under way or waiting: refused without asking. */
export class Busy extends Error {}

export interface AccountClientOptions {
  /** One deadline for the whole exchange. */
  timeoutMs: number;
  /** Asks under way to one account at most... */
  concurrency: number;
  /** ...and waiting for one of those, at most. */
  queue: number;
  /** Asks under way or waiting, over every account together, at most. */
  maxTotal: number;
  /** The largest answer read (a balance is a few dozen bytes). */
  maxBodyBytes?: number;
}

export interface AccountClient {
  /** The account's balance; with `position`, once its ledger has applied that entry. */
  balanceOf(account: string, url: URL, position?: string): Promise<number>;
  close(): void;
}

export function accountClient({
  timeoutMs,
  concurrency,
  queue,
  maxTotal,
  maxBodyBytes = 1024,
}: AccountClientOptions): AccountClient {
  let total = 0;
  const agents = {
    'http:': new http.Agent({ keepAlive: true, maxSockets: concurrency }),
    'https:': new https.Agent({ keepAlive: true, maxSockets: concurrency }),
  };
  const limits = new Map<string, LimitFunction>();
  const limitOf = (account: string) => {
    let limit = limits.get(account);
    if (!limit) {
      limit = pLimit(concurrency);
      limits.set(account, limit);
    }
    return limit;
  };

  function ask(url: URL, position: string | undefined): Promise<number> {
    const agent = agents[url.protocol as keyof typeof agents];
    if (!agent) return Promise.reject(new AccountUnavailable(`unsupported scheme ${url.protocol}`));
    const client = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const target = new URL('/balance', url);
      if (position !== undefined) target.searchParams.set('position', position);
      const request = client.request(
        target,
        { agent, signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } },
        (response) => {
          const status = response.statusCode ?? 0;
          if (status !== 200) {
            response.resume();
            reject(
              new AccountUnavailable(status >= 300 && status < 400 ? 'it redirected' : `it answered HTTP ${status}`),
            );
            return;
          }
          const chunks: Buffer[] = [];
          let bytes = 0;
          response.on('data', (chunk: Buffer) => {
            bytes += chunk.length;
            if (bytes > maxBodyBytes) {
              request.destroy(new AccountUnavailable(`its answer is longer than ${maxBodyBytes} bytes`));
              return;
            }
            chunks.push(chunk);
          });
          response.on('end', () => {
            let json: unknown;
            try {
              json = JSON.parse(Buffer.concat(chunks).toString('utf8'));
            } catch {
              reject(new AccountUnavailable('its answer is not JSON'));
              return;
            }
            const reply = balanceReply.safeParse(json);
            if (reply.success) resolve(reply.data.balance);
            else reject(new AccountUnavailable('its answer has no numeric balance'));
          });
          response.on('error', reject);
        },
      );
      request.on('error', (error) =>
        reject(
          error instanceof AccountUnavailable
            ? error
            : new AccountUnavailable(error.name === 'AbortError' ? `no answer within ${timeoutMs} ms` : error.message),
        ),
      );
      request.end();
    });
  }

  return {
    balanceOf(account, url, position) {
      const limit = limitOf(account);
      if (limit.pendingCount >= queue) return Promise.reject(new Busy(`${account}: ${queue} asks already waiting`));
      if (total >= maxTotal) return Promise.reject(new Busy(`${maxTotal} asks under way or waiting`));
      total++;
      return limit(() => ask(url, position)).finally(() => {
        total--;
        if (limit.activeCount === 0 && limit.pendingCount === 0) limits.delete(account);
      });
    },
    close() {
      agents['http:'].destroy();
      agents['https:'].destroy();
    },
  };
}
