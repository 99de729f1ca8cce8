/**
 * A pause that an AbortSignal ends early, without an error (unlike std's `delay`, which rejects):
 * for waits between reconnects, where an abort means "stop waiting", not "fail".
 *
 * @module
 */

/**
 * Resolves after `ms` milliseconds, or at once when `signal` aborts (never rejects).
 *
 * @example
 * ```ts
 * import { sleepUnlessAborted } from "./sleep-unless-aborted.ts";
 * await sleepUnlessAborted(10);
 * ```
 */
export function sleepUnlessAborted(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    }
    if (signal?.aborted) return done();
    signal?.addEventListener("abort", done, { once: true });
  });
}
