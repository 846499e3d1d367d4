/** The dashboard's configuration: where Redis is, which components to watch, where transfers are made. */
import { readSettings } from '@microbank/service-runtime';
import * as z from 'zod';

export interface WatchedComponent {
  name: string;
  /** Its base URL: /healthz and /readyz are asked there. */
  url: string;
}

const NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

/** WATCH: comma-separated `name=url`, e.g. `account-system=http://microbank-account-system`. */
const watchVar = z
  .string()
  .default('')
  .transform((text, ctx) => {
    const components: WatchedComponent[] = [];
    for (const part of text
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean)) {
      const at = part.indexOf('=');
      const name = part.slice(0, at);
      const url = part.slice(at + 1);
      if (at < 1 || !NAME.test(name) || !/^https?:\/\/[^\s/@]+\/?$/.test(url)) {
        ctx.addIssue({ code: 'custom', message: `has "${part.slice(0, 80)}", not name=http://host[:port]` });
        return z.NEVER;
      }
      components.push({ name, url: url.replace(/\/$/, '') });
    }
    return components;
  });

export function readDashboardConfig(env: Record<string, string | undefined>) {
  return readSettings(env, {
    watch: ['WATCH', watchVar],
    transferUrl: ['TRANSFER_URL', z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional()],
  });
}
