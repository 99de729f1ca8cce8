/**
 * "Wait a little, then go on anyway": a bounded wait that never rejects.
 *
 * @module
 */

/**
 * Waits for `promise` at most `ms` milliseconds; resolves true when it settled in time (either
 * way), false when the time ran out first.
 *
 * @example
 * ```ts
 * import { within } from "./within.ts";
 * const inTime = await within(Promise.resolve(), 1000); // true
 * ```
 */
export async function within(promise: Promise<unknown>, ms: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<false>((r) => (timer = setTimeout(() => r(false), ms)));
  try {
    return await Promise.race([promise.then(() => true, () => true), late]);
  } finally {
    clearTimeout(timer);
  }
}
