/**
 * `visibility`: from XADD acknowledged to the new account in `GET /accounts`, asked back to back
 * over one kept-alive connection, so a figure is at most one request late.
 */
import http from 'node:http';
import { accountEvents, streamKey } from '@microbank/events';
import { appendEvent } from '@microbank/streams';
import type { Redis } from 'ioredis';
import { percentile } from './stats.ts';

export interface VisibilityFigures {
  registrations: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

export async function visibilityBench(redis: Redis, servicePort: number, count: number): Promise<VisibilityFigures> {
  const stream = streamKey('accounts');
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const times: number[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const account = `visible-${i}`;
      await appendEvent(redis, stream, accountEvents, {
        type: 'AccountRegistered',
        data: {
          account,
          url: `http://microbank-${account}`,
          instance: 'bench',
          registeredAt: new Date().toISOString(),
        },
      });
      const acknowledged = performance.now();
      const needle = `"${account}"`;
      while (!(await getAccounts(servicePort, agent)).includes(needle)) {
        if (performance.now() - acknowledged > 10_000) throw new Error(`${account} not visible after 10 s`);
      }
      times.push(performance.now() - acknowledged);
    }
  } finally {
    agent.destroy();
  }
  return {
    registrations: count,
    p50Ms: percentile(times, 50),
    p99Ms: percentile(times, 99),
    maxMs: Math.max(...times),
  };
}

function getAccounts(port: number, agent: http.Agent): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = http.get({ host: '127.0.0.1', port, path: '/accounts', agent }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve(Buffer.concat(chunks).toString()));
    });
    request.on('error', reject);
  });
}
