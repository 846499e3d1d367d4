/** The images of the container tests: the bank's, built from the repo's Dockerfile, and Redis's. */
import { REPO_ROOT } from '@microbank/processes';
import { docker, imageExists } from './docker.ts';

/** What tools/containers/offline-base-images.sh tags Debian's redis-server as: not the official image. */
const REDIS_STAND_IN = 'microbank-offline/redis:7.0.15';

/** `docker build` of the repository with its own Dockerfile, by the legacy builder (no buildx here). */
export async function buildBankImage(tag: string): Promise<void> {
  await docker(['build', '--tag', tag, REPO_ROOT], { env: { DOCKER_BUILDKIT: '0' }, timeoutMs: 15 * 60_000 });
}

/** The Redis image asked for when the engine has it, else the local stand-in; says which. */
export async function redisImage(wanted: string): Promise<{ image: string; note: string }> {
  if (await imageExists(wanted)) return { image: wanted, note: `Redis runs ${wanted}` };
  if (await imageExists(REDIS_STAND_IN)) {
    return {
      image: REDIS_STAND_IN,
      note: `Redis runs the local stand-in ${REDIS_STAND_IN}: ${wanted} is not on this engine`,
    };
  }
  throw new Error(
    `neither ${wanted} nor the stand-in ${REDIS_STAND_IN} is on this engine: pull the first, or make the second with tools/containers/offline-base-images.sh`,
  );
}
