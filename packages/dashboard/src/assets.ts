/**
 * Where the page's files are: beside the bundle (`dist/assets/`, as the image and the local stack
 * run it), or, running the sources, in the package's `dist/assets/` once `pnpm build` made them.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export function assetsDirectory(): URL {
  const besideBundle = new URL('./assets/', import.meta.url);
  if (existsSync(fileURLToPath(new URL('index.html', besideBundle)))) return besideBundle;
  return new URL('../dist/assets/', import.meta.url);
}
