/** `pnpm build [--outdir DIR]`: every service's bundle (DIR/<service>/main.mjs instead, for tests). */
import { parseArgs } from 'node:util';
import { buildServices } from './build.ts';

const { values } = parseArgs({ options: { outdir: { type: 'string' } } });
const started = performance.now();
const outputs = await buildServices(values.outdir);
for (const output of outputs) console.log(`built ${output}`);
console.log(`build took ${Math.round(performance.now() - started)} ms`);
