/**
 * Yields to the event loop: resolves on a later turn, after the I/O that is ready now has had
 * its callbacks run. A loop that works through data already buffered (every read resolving at
 * once) awaits this now and then, so other connections are served between its pieces of work.
 *
 * @module
 */

type Immediate = (fn: () => void) => unknown;
const isDeno = (globalThis as { Deno?: unknown }).Deno !== undefined;
// Deno's setImmediate (and a MessageChannel message) runs before the sockets are polled again:
// a channel yielding through it starved the others (5 calls in 2 s against 757 with a timer,
// measured by bench/fairness.ts). Its timers wait at least a millisecond, 2 ms when chained, so
// a server yielding every millisecond of work idled two thirds of the time (1 connection x 256
// calls in flight: 87,000 calls/s against 261,000 without yielding). What Deno has that completes
// only after a poll of its I/O, at once and without a permission, is an async op: a digest of
// nothing, about 40 µs.
const immediate: Immediate | undefined = isDeno ? undefined : (globalThis as { setImmediate?: Immediate }).setImmediate;
const subtle: SubtleCrypto | undefined = isDeno ? globalThis.crypto?.subtle : undefined;
const NOTHING = new Uint8Array(0);

/**
 * Resolves on a later turn of the event loop, after the I/O that is ready now has had its
 * callbacks run: `setImmediate` on Node and Bun, an async op on Deno (a zero timeout where
 * neither is there).
 *
 * @example
 * ```ts
 * import { nextTurn } from "./next-turn.ts";
 * await nextTurn();
 * ```
 */
export function nextTurn(): Promise<void> {
  if (subtle) return subtle.digest("SHA-1", NOTHING).then(done);
  return new Promise((resolve) => {
    if (immediate) immediate(resolve);
    else setTimeout(resolve, 0);
  });
}

/**
 * Resolves once the runtime has polled the OS for I/O, so sockets whose data is waiting are seen:
 * a zero timeout on Deno, {@link nextTurn} elsewhere. Deno can complete a read op from data
 * already there without polling the OS, and an async op's completion does not poll it either: a
 * server working through one peer's flood, yielding only through {@link nextTurn}, left another
 * peer's read pending for over a second (bench/fairness.ts, 6 calls in 3 s). A timer waits for the
 * runtime to park, which polls every socket; it costs a millisecond or two, so a read loop takes it
 * only after several milliseconds in which none of its reads had to wait.
 *
 * @example
 * ```ts
 * import { parkTurn } from "./next-turn.ts";
 * await parkTurn();
 * ```
 */
export function parkTurn(): Promise<void> {
  if (!isDeno) return nextTurn();
  return new Promise((resolve) => setTimeout(resolve, 0));
}

function done(): void {}
