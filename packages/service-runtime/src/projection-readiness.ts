/** What a projection's state means for HTTP: readiness, and the 503 a read gets before it is ready. */
import { isStreamId, type Projection, type StreamId } from '@microbank/streams';
import type { Context, Hono } from 'hono';
import { httpError } from './http-errors.ts';
import { createServiceApp, type Readiness, type ServiceAppOptions } from './service-app.ts';

/** Readiness of a projection; its position rides along, so tools can see how far it got. */
export function projectionReadiness(projection: Projection): Readiness {
  const details = { position: projection.position };
  return { ...readinessOf(projection), details };
}

function readinessOf(projection: Projection): Readiness {
  switch (projection.status) {
    case 'live':
      return { ready: true };
    case 'starting':
      return { ready: false, reason: 'waiting for Redis to read the catch-up target' };
    case 'catching-up':
      return {
        ready: false,
        reason: `catching up with the stream: at ${projection.position} of ${projection.catchUpTarget}`,
      };
    case 'failed':
      return { ready: false, reason: `cannot read the stream: ${projection.reason ?? 'unknown error'}; trying again` };
    case 'diverged':
      return {
        ready: false,
        reason: `Redis lost data this service applied (${projection.reason ?? 'diverged'}); check its volume, then restart this service`,
      };
    case 'stopped':
      return { ready: false, reason: 'stopping' };
  }
}

/** Throws the 503 JSON answer unless the projection serves. */
export function assertServing(projection: Projection): void {
  const state = projectionReadiness(projection);
  if (!state.ready) throw httpError(503, state.reason, {}, { 'retry-after': '1' });
}

/** The base app of a service whose reads come from `projection`: ready when the projection is (and its writes can go through). */
export function projectionServiceApp(
  options: Omit<ServiceAppOptions, 'readiness'> & {
    projection: Projection;
    /**
     * The connection the service writes through, for a service whose requests need Redis (transfer):
     * not ready while it is down, so no request is routed to a pod that could only answer 503.
     */
    writesThrough?: { readonly status: string };
  },
): Hono {
  const { projection, writesThrough } = options;
  return createServiceApp({
    ...options,
    readiness: () => {
      const state = projectionReadiness(projection);
      if (state.ready && writesThrough !== undefined && writesThrough.status !== 'ready') {
        return { ready: false, reason: 'Redis is not answering; reconnecting', details: state.details };
      }
      return state;
    },
  });
}

/** The response header that says which stream entry a read reflects. */
export const POSITION_HEADER = 'x-microbank-position';

/**
 * For a read from `projection`: 503 unless it serves; with `?position=<stream ID>` (an append's
 * ID) it first waits, at most `waitMaxMs`, until the projection has consumed that entry of
 * its primary stream: read-your-writes. 400 for a position that is not a
 * stream ID. Resolves to the position the read reflects.
 */
export async function readAtPosition(c: Context, projection: Projection, waitMaxMs: number): Promise<StreamId> {
  const position = c.req.query('position');
  if (position !== undefined && !isStreamId(position)) {
    throw httpError(400, 'position must be a stream ID like 1732530000000-0, as returned by XADD', {
      position: position.slice(0, 64),
    });
  }
  assertServing(projection);
  if (position !== undefined && !(await projection.waitForPosition(position, waitMaxMs))) {
    const at = projection.position;
    throw httpError(
      503,
      `not at position ${position} within ${waitMaxMs} ms (at ${at ?? 'nothing yet'})`,
      { position: at ?? '0-0' },
      { 'retry-after': '1' },
    );
  }
  return projection.position ?? '0-0';
}
