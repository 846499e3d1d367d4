/**
 * The load that runs while the monkey kills: registrations of new accounts appended as accounts
 * starting up would (recording each one Redis acknowledged: on a cluster, confirmed by a replica as
 * the services ask; one recorded but not confirmed is counted apart and not checked), and reads of /accounts and
 * /balance/:account (counting how each was answered).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { accountEvents, streamKey } from '@microbank/events';
import { appendEvent, type RedisClient, Unconfirmed, untilReady } from '@microbank/streams';

export interface Acknowledged {
  account: string;
  id: string;
}

export interface ReadCounts {
  attempted: number;
  /** 2xx */
  answered: number;
  /** 503: the service was up and said it could not answer yet. */
  refused: number;
  /** No HTTP answer: connection refused or reset, or no answer within 2 s. */
  unreachable: number;
  /** Any other status, e.g. a 404 for an account balance has not seen yet. */
  other: number;
}

export interface RegistrationLoad {
  acknowledged: Acknowledged[];
  /** Appends that failed and were tried again (Redis was away). */
  retries: number;
  /** Appends recorded but not confirmed by a replica in time: they may stand or not, so they are not checked. */
  unconfirmed: number;
  stop(): Promise<void>;
}

/**
 * Appends registrations one after another: each is retried until Redis acknowledges it before the
 * next begins, so the order of acknowledgement is the order of first registration.
 */
export function startRegistrationLoad(
  /** The load's own connection, closed when it stops. */
  redis: RedisClient,
  runId: string,
  accountUrl: string,
  pauseMs: number,
): RegistrationLoad {
  const acknowledged: Acknowledged[] = [];
  let retries = 0;
  let unconfirmed = 0;
  let stopped = false;
  const loop = (async () => {
    for (let n = 1; !stopped; n++) {
      const account = `chaos-${runId}-${n}`;
      for (;;) {
        try {
          await untilReady(redis);
          const id = await appendEvent(redis, streamKey('accounts'), accountEvents, {
            type: 'AccountRegistered',
            data: { account, url: accountUrl, instance: `chaos-${runId}`, registeredAt: new Date().toISOString() },
          });
          acknowledged.push({ account, id });
          break;
        } catch (error) {
          // Sent again it could register twice: this one is left out of the check, the next goes on.
          if (error instanceof Unconfirmed) {
            unconfirmed++;
            break;
          }
          retries++;
          await sleep(20);
        }
      }
      await sleep(pauseMs);
    }
  })();
  return {
    acknowledged,
    get retries() {
      return retries;
    },
    get unconfirmed() {
      return unconfirmed;
    },
    async stop() {
      stopped = true;
      await loop;
      redis.disconnect();
    },
  };
}

export interface ReadLoad {
  counts: ReadCounts;
  stop(): Promise<void>;
}

/** Alternates GET /accounts and GET /balance/<a registered account>. */
export function startReadLoad(
  urls: { accounts: string; balanceOf: (account: string) => string },
  pickAccount: () => string,
  pauseMs: number,
): ReadLoad {
  const counts: ReadCounts = { attempted: 0, answered: 0, refused: 0, unreachable: 0, other: 0 };
  let stopped = false;
  const read = async (url: string) => {
    counts.attempted++;
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(2_000) });
      await response.arrayBuffer();
      if (response.ok) counts.answered++;
      else if (response.status === 503) counts.refused++;
      else counts.other++;
    } catch {
      counts.unreachable++;
    }
  };
  const loop = (async () => {
    while (!stopped) {
      await read(urls.accounts);
      await read(urls.balanceOf(pickAccount()));
      await sleep(pauseMs);
    }
  })();
  return {
    counts,
    async stop() {
      stopped = true;
      await loop;
    },
  };
}
