/** uvu's assert has `throws` for code that throws, nothing for a promise that rejects: this. */
import * as assert from 'uvu/assert';

/** Fails unless `run` rejects with an error whose message matches `pattern`. */
export async function assertRejects(run: () => Promise<unknown>, pattern: RegExp): Promise<void> {
  try {
    await run();
  } catch (error) {
    assert.match(error instanceof Error ? error.message : String(error), pattern);
    return;
  }
  assert.unreachable(`expected a rejection matching ${pattern}`);
}
