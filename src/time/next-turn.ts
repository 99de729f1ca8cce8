/**
 * Yields to the event loop: resolves on a later turn, after the I/O that is ready now has had
 * its callbacks run. A loop that works through data already buffered (every read resolving at
 * once) awaits this now and then, so other connections are served between its pieces of work.
 *
 * @module
 */

type Immediate = (fn: () => void) => unknown;
// Deno's setImmediate runs before the sockets are polled again (a channel yielding through it
// starved the others: 5 calls in 2 s against 757 with a timer, measured by bench/fairness.ts).
const immediate: Immediate | undefined = (globalThis as { Deno?: unknown }).Deno
  ? undefined
  : (globalThis as { setImmediate?: Immediate }).setImmediate;

/**
 * Resolves on the next turn of the event loop, after pending I/O: `setImmediate` on Node and
 * Bun (no clamp), a zero timeout on Deno.
 *
 * @example
 * ```ts
 * import { nextTurn } from "./next-turn.ts";
 * await nextTurn();
 * ```
 */
export function nextTurn(): Promise<void> {
  return new Promise((resolve) => {
    if (immediate) immediate(resolve);
    else setTimeout(resolve, 0);
  });
}
