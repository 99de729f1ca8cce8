/**
 * Lets an AbortSignal cut one promise short.
 *
 * @module
 */

/**
 * Settles like `promise`, or rejects with `error()` when `signal` aborts first (at once when it
 * already has). Without a signal it is `promise` itself.
 *
 * @example
 * ```ts
 * import { withAbort } from "./with-abort.ts";
 * import { AbortError } from "@poe-ikc/ikc";
 * const ac = new AbortController();
 * const p = withAbort(new Promise(() => {}), ac.signal, () => new AbortError("stopped"));
 * ac.abort();
 * ```
 */
export function withAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined, error: () => Error): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(error());
  let onAbort!: () => void;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      onAbort = () => reject(error());
      signal.addEventListener("abort", onAbort, { once: true });
    }),
  ]).finally(() => signal.removeEventListener("abort", onAbort));
}
