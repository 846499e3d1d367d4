/** The one shape of an HTTP error: `{"error":"<code>","message":"..."}` plus any details. */
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

const CODES: Partial<Record<ContentfulStatusCode, string>> = {
  400: 'bad_request',
  401: 'unauthenticated',
  403: 'forbidden',
  404: 'not_found',
  405: 'method_not_allowed',
  409: 'conflict',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  422: 'unprocessable',
  500: 'internal',
  503: 'unavailable',
};

export function errorBody(status: ContentfulStatusCode, message: string, details: Record<string, unknown> = {}) {
  return { error: CODES[status] ?? `http_${status}`, message, ...details };
}

/** Throw this from a handler; the service app turns it into the JSON response. */
export function httpError(
  status: ContentfulStatusCode,
  message: string,
  details?: Record<string, unknown>,
  headers?: Record<string, string>,
): HTTPException {
  return new HTTPException(status, {
    message,
    res: Response.json(errorBody(status, message, details), { status, headers }),
  });
}
