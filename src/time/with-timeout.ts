/**
 * Bounds one promise in time (a connect or negotiation phase).
 *
 * @module
 */

/**
 * Settles like `promise`, or rejects with `error()` after `ms` milliseconds, whichever is first.
 *
 * @example
 * ```ts
 * import { withTimeout } from "./with-timeout.ts";
 * import { TimeoutError } from "@poe-ikc/ikc";
 * const v = await withTimeout(Promise.resolve(1), 1000, () => new TimeoutError("too slow"));
 * ```
 */
export function withTimeout<T>(promise: Promise<T>, ms: number, error: () => Error): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(error()), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}
