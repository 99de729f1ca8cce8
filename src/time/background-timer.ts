/**
 * A timer that never keeps a process alive on its own (unref'd where the runtime can).
 *
 * @module
 */

/**
 * Calls `fire` after `ms` milliseconds unless the returned function is called first. The timer
 * does not hold the process open: for summaries and other work nobody waits on.
 *
 * @example
 * ```ts
 * import { backgroundTimer } from "./background-timer.ts";
 * const cancel = backgroundTimer(1000, () => console.log("summary"));
 * cancel();
 * ```
 */
export function backgroundTimer(ms: number, fire: () => void): () => void {
  const timer = setTimeout(fire, ms);
  (timer as { unref?: () => void }).unref?.();
  return () => clearTimeout(timer);
}
