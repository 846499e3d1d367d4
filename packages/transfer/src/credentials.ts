/**
 * Who may move money: each client of the transfer API holds a credential, `<client>.<secret>`, sent
 * as `Authorization: Bearer <credential>`. The service keeps only each credential's SHA-256 (from
 * TRANSFER_CLIENTS) and the accounts that client may debit; it compares digests in constant time,
 * and does the same work for an unknown client as for a known one, so neither the answer nor its
 * timing tells which clients exist.
 */
import { hash, randomBytes, timingSafeEqual } from 'node:crypto';
import { accountName, CLIENT_NAME_PATTERN, clientName } from '@microbank/events';
import * as z from 'zod';

/** The secret part: 32 bytes of randomness, base64url (43 characters); longer ones are taken too. */
const SECRET = /^[A-Za-z0-9_-]{32,128}$/;

/** One entry of TRANSFER_CLIENTS: a client, its credential's digest, the accounts it may debit ("*": any). */
const clientEntry = z.strictObject({
  client: clientName,
  sha256: z.string().regex(/^[0-9a-f]{64}$/, 'must be the credential’s SHA-256, 64 lowercase hex digits'),
  debits: z.union([z.literal('*'), z.array(accountName).min(1)]),
});

/**
 * TRANSFER_CLIENTS: a JSON array of `{"client","sha256","debits"}`, e.g.
 * `[{"client":"operator","sha256":"<64 hex>","debits":"*"},{"client":"john","sha256":"…","debits":["john-account"]}]`.
 * Each client once. Without any client, nobody can move money.
 */
export const transferClientsVar = z
  .string({
    error: (issue) => (issue.input === undefined ? 'is required (a JSON array of clients)' : 'must be a string'),
  })
  .transform((text, ctx) => {
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be a JSON array of {"client","sha256","debits"}' });
      return z.NEVER;
    }
    const parsed = z.array(clientEntry).min(1).safeParse(json);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      ctx.addIssue({ code: 'custom', message: `has ${issue?.path.join('.') || 'a value that'} ${issue?.message}` });
      return z.NEVER;
    }
    const seen = new Set<string>();
    for (const { client } of parsed.data) {
      if (seen.has(client)) {
        ctx.addIssue({ code: 'custom', message: `names client ${client} twice` });
        return z.NEVER;
      }
      seen.add(client);
    }
    return parsed.data;
  });

export type TransferClient = z.infer<typeof clientEntry>;

/** A credential's digest, as TRANSFER_CLIENTS keeps it. */
export function credentialDigest(credential: string): string {
  return hash('sha256', credential);
}

/** A new credential for `client` and the digest to configure; the credential is shown once, kept by its holder. */
export function newCredential(client: string): { credential: string; sha256: string } {
  if (!CLIENT_NAME_PATTERN.test(client)) throw new Error(`not a client name: ${client}`);
  const credential = `${client}.${randomBytes(32).toString('base64url')}`;
  return { credential, sha256: credentialDigest(credential) };
}

export type Authentication =
  | { ok: true; client: string; mayDebit(account: string): boolean }
  | { ok: false; problem: string };

export interface Credentials {
  /** Checks an Authorization header. */
  authenticate(header: string | undefined): Authentication;
}

export function credentialsOf(clients: readonly TransferClient[]): Credentials {
  /** Each client's digest and what it may debit, worked out once, not per request. */
  const byName = new Map(
    clients.map(({ client, sha256, debits }) => {
      const accounts = debits === '*' ? undefined : new Set(debits);
      const mayDebit = accounts ? (account: string) => accounts.has(account) : () => true;
      return [client, { digest: Buffer.from(sha256, 'hex'), mayDebit }] as const;
    }),
  );
  /** What an unknown client's credential is compared with, so that it costs what a known one does. */
  const nobody = Buffer.alloc(32);
  return {
    authenticate(header) {
      if (header === undefined)
        return { ok: false, problem: 'an Authorization: Bearer <credential> header is required' };
      const match = /^Bearer +([^\s]+) *$/i.exec(header);
      const credential = match?.[1] ?? '';
      const dot = credential.indexOf('.');
      const client = credential.slice(0, dot);
      if (dot < 1 || !CLIENT_NAME_PATTERN.test(client) || !SECRET.test(credential.slice(dot + 1))) {
        return { ok: false, problem: 'the Authorization header must be Bearer <client>.<secret>' };
      }
      const known = byName.get(client);
      const given = hash('sha256', credential, 'buffer');
      if (!timingSafeEqual(given, known?.digest ?? nobody) || !known) {
        return { ok: false, problem: 'the credential is not valid' };
      }
      return { ok: true, client, mayDebit: known.mayDebit };
    },
  };
}
