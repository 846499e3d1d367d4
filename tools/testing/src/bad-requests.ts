/** A sweep of bad HTTP requests against an app's routes: each must get a 4xx JSON error, never a 500 or a stack trace. */
import * as assert from 'uvu/assert';

type Request = (path: string, init?: RequestInit) => Response | Promise<Response>;

async function assertJsonError(response: Response, status: number, what: string): Promise<void> {
  assert.is(response.status, status, `${what}: status`);
  assert.match(response.headers.get('content-type') ?? '', /application\/json/, `${what}: content type`);
  const text = await response.text();
  assert.not.match(text, /\n\s+at |node_modules|\.ts:\d+/, `${what}: no stack trace`);
  const body = JSON.parse(text) as { error?: unknown; message?: unknown };
  assert.type(body.error, 'string', `${what}: error code`);
  assert.type(body.message, 'string', `${what}: message`);
}

/** `routes` are paths that answer GET. */
export async function assertBadRequestsRefused(request: Request, routes: string[]): Promise<void> {
  for (const route of routes) {
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
      await assertJsonError(await request(route, { method }), 405, `${method} ${route}`);
    }
    await assertJsonError(
      await request(route, { method: 'POST', body: 'x'.repeat(1024 * 1024) }),
      413,
      `1 MiB body to ${route}`,
    );
  }
  for (const path of ['/nope', '/accounts/extra/segments', '/balance', '/%ff', '/..%2f..%2fetc/passwd', '/\u00e9']) {
    const response = await request(path);
    if (routes.includes(path)) continue;
    await assertJsonError(response, 404, `GET ${path}`);
  }
}
