/**
 * The monotonic clock every deadline is measured on.
 *
 * @module
 */

/**
 * Milliseconds on a monotonic clock (`performance.now()`, or `Date.now()` where there is none).
 *
 * @example
 * ```ts
 * import { now } from "./clock.ts";
 * const t0 = now();
 * console.log(`${now() - t0} ms`);
 * ```
 */
export const now: () => number = typeof performance !== "undefined" ? () => performance.now() : () => Date.now();
