/**
 * An AbortSignal that aborts after a time, from the time module (where every timer lives).
 *
 * @module
 */

/**
 * A signal that aborts `ms` milliseconds from now (with a `TimeoutError` DOMException reason).
 *
 * @example
 * ```ts
 * import { timeoutSignal } from "./timeout-signal.ts";
 * const signal = timeoutSignal(5000);
 * console.log(signal.aborted); // false
 * ```
 */
export function timeoutSignal(ms: number): AbortSignal {
  return AbortSignal.timeout(ms);
}
