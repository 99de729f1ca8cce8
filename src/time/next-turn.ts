/**
 * Yields to the event loop: resolves on a later turn, after the I/O that is ready now has had
 * its callbacks run. A loop that works through data already buffered (every read resolving at
 * once) awaits this now and then, so other connections are served between its pieces of work.
 *
 * @module
 */

type Immediate = (fn: () => void) => unknown;
const immediate: Immediate | undefined = (globalThis as { setImmediate?: Immediate }).setImmediate;

/**
 * Resolves on the next turn of the event loop (`setImmediate` where the runtime has it: after
 * pending I/O, without the clamp a zero timeout gets).
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
