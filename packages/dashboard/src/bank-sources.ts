/**
 * What the dashboard reads, started together: the books (registry, every ledger, the audit), the
 * live transfer feed, the component watch and the raw streams, each marking its sections of the
 * view changed.
 */
import { ledgerKey, streamKey, transfersKey } from '@microbank/events';
import { type Books, startBooks } from '@microbank/ledger';
import { connectRedis, type Log, type RedisAt } from '@microbank/streams';
import { type BankView, bankView } from './bank-view.ts';
import { type ComponentWatch, watchComponents } from './component-watch.ts';
import type { WatchedComponent } from './config.ts';
import { watchParked } from './parked-watch.ts';
import { type RawStreams, watchRawStreams } from './raw-streams.ts';
import { startTransferFeed } from './transfer-feed.ts';

/** How often the books are looked at for a change (their events come by the thousand). */
const BOOKS_LOOK_MS = 250;

export interface BankSources {
  books: Books;
  view: BankView;
  stop(): Promise<void>;
}

export function startBankSources(options: {
  redisAt: RedisAt;
  log: Log;
  watch: readonly WatchedComponent[];
  transferFormEnabled: boolean;
}): BankSources {
  const { redisAt, log } = options;
  const books = startBooks({ redisAt, log, name: 'dashboard' });
  let watch: ComponentWatch | undefined;
  let raw: RawStreams | undefined;
  const feed = startTransferFeed({
    redisAt,
    redis: books.redis,
    log,
    onChange: (section) => view.touch(section),
    onKill: ({ component, by }) => watch?.markDown(component, `killed by ${by}`),
  });
  const view = bankView({
    books,
    feed,
    components: () => watch?.views() ?? [],
    raw: () => raw,
    parked: () => parked.view(),
    transferFormEnabled: options.transferFormEnabled,
  });
  const parked = watchParked(books.redis, log, () => view.touch('transfers'));
  // What the sections show follows from the entries applied, and from whether the books are ready.
  let booksSeen = '';
  const booksLook = setInterval(() => {
    const seen = `${books.projection.applied}:${books.projection.ready}`;
    if (seen === booksSeen) return;
    booksSeen = seen;
    for (const section of ['accounts', 'audit', 'transfers'] as const) view.touch(section);
  }, BOOKS_LOOK_MS);
  booksLook.unref();
  const watchRedis = connectRedis(redisAt, 'dashboard:watch', log);
  watch = watchComponents({
    components: options.watch,
    redis: watchRedis,
    log,
    onTransition: (transition) => view.noteTransition(transition),
    onClusterChange: (change, at) => view.noteClusterChange(change, at),
    onChange: () => view.touch('components'),
  });
  raw = watchRawStreams(
    books.redis,
    () => {
      const shown = new Map<string, string>([
        [streamKey('accounts'), books.projection.position],
        [transfersKey(), feed.projection.position],
      ]);
      for (const account of books.ledgers.keys()) {
        shown.set(ledgerKey(account), books.projection.positions.get(ledgerKey(account)) ?? '0-0');
      }
      return shown;
    },
    () => view.touch('streams'),
  );
  return {
    books,
    view,
    async stop() {
      clearInterval(booksLook);
      watch?.stop();
      parked.stop();
      raw?.stop();
      watchRedis.disconnect();
      await feed.stop();
      await books.close();
    },
  };
}
