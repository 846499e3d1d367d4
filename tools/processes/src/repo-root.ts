/** The repository's root directory: where tsx, the packages and the tools are found. */
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = fileURLToPath(new URL('../../..', import.meta.url));
