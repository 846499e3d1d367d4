/**
 * `pnpm build`: one self-contained ESM bundle per service (`packages/<service>/dist/main.mjs`: .mjs, so it is ESM wherever it is copied),
 * npm dependencies included, so the container image needs Node and these files only.
 * Usage: pnpm build [--outdir DIR]   (DIR/<service>/main.mjs instead, for tests)
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

export const SERVICES = ['account', 'account-system', 'balance'] as const;
const root = fileURLToPath(new URL('..', import.meta.url));

export async function buildServices(outdir?: string): Promise<string[]> {
  const outputs: string[] = [];
  for (const service of SERVICES) {
    const outfile = outdir ? join(outdir, service, 'main.mjs') : join(root, 'packages', service, 'dist', 'main.mjs');
    await build({
      entryPoints: [join(root, 'packages', service, 'src', 'main.ts')],
      outfile,
      bundle: true,
      platform: 'node',
      target: 'node20',
      format: 'esm',
      sourcemap: true,
      legalComments: 'linked',
      logLevel: 'warning',
      // CommonJS dependencies inside an ESM bundle still call require() for Node's built-ins.
      banner: {
        js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);",
      },
    });
    outputs.push(outfile);
  }
  return outputs;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const at = process.argv.indexOf('--outdir');
  const outputs = await buildServices(at > 0 ? process.argv[at + 1] : undefined);
  for (const output of outputs) console.log(`built ${output}`);
}
