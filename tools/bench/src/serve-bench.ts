/**
 * `serve`: GET /accounts requests/s against account-system, next to a bare node:http server
 * answering the same bytes, both as processes, loaded by the same autocannon settings in turn.
 * autocannon because it is the Node load generator with HDR histograms that keeps up with a
 * single Node server on loopback; writing our own would measure our own client.
 */
import { spawnNode } from '@microbank/processes';
import autocannon from 'autocannon';
import { BARE_SERVER } from './ready-process.ts';
import { median } from './stats.ts';

export interface ServeFigures {
  /** Median requests/s answered by account-system. */
  serviceRps: number;
  /** Median requests/s answered by the bare server. */
  bareRps: number;
  /** The median over rounds of that round's account-system / bare requests/s. */
  ratio: number;
  connections: number;
  seconds: number;
  rounds: number;
  bodyBytes: number;
}

const CONNECTIONS = 20;

/** Requests/s of `url` under `seconds` of load; any non-2xx answer or error fails the run. */
export async function load(url: string, seconds: number): Promise<number> {
  const result = await autocannon({ url, connections: CONNECTIONS, duration: seconds });
  if (result.errors > 0 || result.non2xx > 0 || result.timeouts > 0) {
    throw new Error(`${url}: ${result.errors} errors, ${result.non2xx} non-2xx, ${result.timeouts} timeouts`);
  }
  return result.requests.average;
}

export async function serveBench(servicePort: number, seconds: number, rounds: number): Promise<ServeFigures> {
  const serviceUrl = `http://127.0.0.1:${servicePort}/accounts`;
  const answer = await fetch(serviceUrl);
  const body = await answer.text();
  if (answer.status !== 200) throw new Error(`GET /accounts answered ${answer.status}: ${body}`);

  const bare = spawnNode(BARE_SERVER, {
    env: { BODY: body, POSITION: answer.headers.get('x-microbank-position') ?? '' },
  });
  try {
    const barePort = await bare.port();
    const bareUrl = `http://127.0.0.1:${barePort}/accounts`;
    const bareAnswer = await fetch(bareUrl);
    if ((await bareAnswer.text()) !== body) throw new Error('the bare server does not answer the same body');

    // Warm both up (JIT, connection pools) before anything is counted.
    await load(bareUrl, 1);
    await load(serviceUrl, 1);
    // Rounds alternate, and the ratio is the median of each round's own ratio: a neighbour's burst
    // on this shared machine then moves one round's pair, not the figure.
    const bareRps: number[] = [];
    const serviceRps: number[] = [];
    const ratios: number[] = [];
    for (let round = 0; round < rounds; round++) {
      const [first, second] = round % 2 === 0 ? [bareUrl, serviceUrl] : [serviceUrl, bareUrl];
      const firstRps = await load(first, seconds);
      const secondRps = await load(second, seconds);
      const [bare, service] = first === bareUrl ? [firstRps, secondRps] : [secondRps, firstRps];
      bareRps.push(bare);
      serviceRps.push(service);
      ratios.push(service / bare);
    }
    return {
      serviceRps: median(serviceRps),
      bareRps: median(bareRps),
      ratio: median(ratios),
      connections: CONNECTIONS,
      seconds,
      rounds,
      bodyBytes: Buffer.byteLength(body),
    };
  } finally {
    await bare.stop();
  }
}
