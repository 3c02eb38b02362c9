/** Resolves after `ms`, or early (without throwing) when `signal` aborts. */
export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
    function done(): void {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
  });
}

/**
 * Wraps a timer callback so it runs after the I/O that was pending when the timer fired
 * (setImmediate runs after the poll phase; timers run before it). A deadline judged this way
 * after a stall of this process' own event loop first sees the replies waiting in its sockets,
 * instead of calling a live peer silent.
 */
export function afterPendingIo(fn: () => void): () => void {
  return () => void setImmediate(fn);
}
