/**
 * Which account URLs balance may ask. A registration names any URL it likes, and whoever can
 * write to Redis can register; without a policy balance would fetch whatever it is told (an
 * internal admin page, a cloud metadata address). ACCOUNT_URL_PATTERN lists what is allowed:
 * comma-separated `scheme://host[:port]`, where the host may contain `{account}` (the account's
 * own name) and the port may be `*`. In Kubernetes: `http://microbank-{account}` (the account's
 * own Service); locally: `http://127.0.0.1:*`. A URL with user-info, a path, a query or a
 * fragment is never allowed.
 */

export interface UrlPattern {
  protocol: 'http:' | 'https:';
  /** A host name, possibly with `{account}` in it, lower case. */
  host: string;
  /** A port, `*` for any, or '' for the scheme's default port only. */
  port: string;
}

const PATTERN = /^(https?):\/\/([a-z0-9.{}-]+)(?::(\*|\d{1,5}))?\/?$/;

/** Parses ACCOUNT_URL_PATTERN; throws an Error saying what is wrong with it. */
export function parseUrlPatterns(text: string): UrlPattern[] {
  const patterns = text
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean);
  if (patterns.length === 0) throw new Error('lists no pattern');
  return patterns.map((pattern) => {
    const match = PATTERN.exec(pattern.toLowerCase());
    const host = match?.[2] ?? '';
    if (!match || host.replaceAll('{account}', '').includes('{') || host.replaceAll('{account}', '').includes('}')) {
      throw new Error(`has "${pattern}", which is not scheme://host[:port] (host may hold {account}, port may be *)`);
    }
    const port = match[3] ?? '';
    if (port !== '*' && port !== '' && Number(port) > 65535) throw new Error(`has a port over 65535 in "${pattern}"`);
    return { protocol: `${match[1]}:` as UrlPattern['protocol'], host, port };
  });
}

/** The URL to ask for `account` when one of `patterns` allows `url`; else why not. */
export function allowedAccountUrl(patterns: readonly UrlPattern[], account: string, url: string): URL | string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return 'it is not a URL';
  }
  if (parsed.username !== '' || parsed.password !== '') return 'it carries user-info';
  if ((parsed.pathname !== '/' && parsed.pathname !== '') || parsed.search !== '' || parsed.hash !== '') {
    return 'it has a path, a query or a fragment';
  }
  const allowed = patterns.some(
    (pattern) =>
      pattern.protocol === parsed.protocol &&
      pattern.host.replaceAll('{account}', account) === parsed.hostname &&
      (pattern.port === '*' || pattern.port === parsed.port),
  );
  return allowed ? parsed : 'no ACCOUNT_URL_PATTERN allows it';
}
