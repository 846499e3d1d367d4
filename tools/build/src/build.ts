/**
 * One self-contained ESM bundle per service (`packages/<service>/dist/main.mjs`; .mjs, so it is
 * ESM wherever it is copied), npm dependencies included, so the container image needs Node and
 * these files only, and the local stack runs exactly what the image runs.
 */
import { cpSync, existsSync, readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { REPO_ROOT } from '@microbank/processes';
import { build } from 'esbuild';

export const SERVICES = ['account', 'account-system', 'balance', 'transfer', 'dashboard'] as const;
export type ServiceName = (typeof SERVICES)[number];

/** Where `pnpm build` puts a service's bundle (and where the image and the local stack find it). */
export function bundlePath(service: ServiceName, outdir?: string): string {
  return outdir ? join(outdir, service, 'main.mjs') : join(REPO_ROOT, 'packages', service, 'dist', 'main.mjs');
}

/** Builds every service (into `outdir/<service>/main.mjs` when given); returns the bundles' paths. */
export async function buildServices(outdir?: string): Promise<string[]> {
  await buildDashboardPage(join(dirname(bundlePath('dashboard', outdir)), 'assets'));
  return Promise.all(
    SERVICES.map(async (service) => {
      const outfile = bundlePath(service, outdir);
      await build({
        entryPoints: [join(REPO_ROOT, 'packages', service, 'src', 'main.ts')],
        outfile,
        bundle: true,
        platform: 'node',
        target: 'node22',
        format: 'esm',
        sourcemap: true,
        legalComments: 'linked',
        logLevel: 'warning',
        // CommonJS dependencies inside an ESM bundle still call require() for Node's built-ins.
        banner: {
          js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
        },
      });
      // The Lua scripts are read from beside the code at run time: beside the bundle, here.
      for (const script of luaScripts()) cpSync(script, join(dirname(outfile), 'scripts', basename(script)));
      return outfile;
    }),
  );
}

/** Every Lua script of the product (packages/<package>/src/scripts/<name>-<keys>.lua). */
function luaScripts(): string[] {
  return readdirSync(join(REPO_ROOT, 'packages')).flatMap((name) => {
    const dir = join(REPO_ROOT, 'packages', name, 'src', 'scripts');
    if (!existsSync(dir)) return [];
    return readdirSync(dir)
      .filter((file) => file.endsWith('.lua'))
      .map((file) => join(dir, file));
  });
}

/**
 * The dashboard's page: its script bundled for browsers (minified, no dependency left outside),
 * its HTML and CSS copied beside it, all served by the dashboard itself.
 */
async function buildDashboardPage(assets: string): Promise<void> {
  const page = join(REPO_ROOT, 'packages', 'dashboard', 'src', 'page');
  await build({
    entryPoints: [join(page, 'live-page.ts')],
    outfile: join(assets, 'app.js'),
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    minify: true,
    logLevel: 'warning',
  });
  for (const file of ['index.html', 'app.css']) cpSync(join(page, file), join(assets, file));
}
