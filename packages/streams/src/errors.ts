/** What went wrong, as a log line or a readiness reason can say it. */

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
