/** Resolves after `ms`. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Polls `check` every `intervalMs` until it holds; throws naming `what` (a function may say
 * how far it got) after `timeoutMs`.
 * Every wait in the bench goes through here, so a stuck scenario fails with a reason
 * instead of hanging the run (and leaving its processes behind).
 */
export async function waitUntil(what: string | (() => string), check: () => Promise<boolean> | boolean, timeoutMs: number, intervalMs = 50): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      if (await check()) return;
    } catch (err) {
      lastError = err; // e.g. a /metrics endpoint not listening yet
    }
    if (performance.now() > deadline) {
      const detail = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}${detail}`);
    }
    await sleep(intervalMs);
  }
}
