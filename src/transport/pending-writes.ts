/**
 * What a graceful close waits for before it sends FIN.
 *
 * @module
 */
import { nextTurn } from "../time/next-turn.ts";

/**
 * Counts a connection's writes not yet taken by the OS, so a graceful close (`closeWrite()`,
 * `close()`) sends FIN only once they are all out. A writer that issues its next write when the
 * previous one resolves (a flush loop, as the channel runs) is still let in: `drained()` resolves
 * only when nothing is pending after the event loop has turned once with nothing pending. So
 * nothing a connection accepted before its FIN is refused because a close was asked for meanwhile.
 *
 * @example
 * ```ts
 * import { PendingWrites } from "./pending-writes.ts";
 * const pending = new PendingWrites();
 * const write = pending.track(new Promise<void>((resolve) => setTimeout(resolve, 10)));
 * await pending.end(() => console.log("FIN")); // after `write` settled
 * pending.ended; // true: refuse further writes
 * await write;
 * ```
 */
export class PendingWrites {
  #count = 0;
  #idle: Array<() => void> = [];
  #ending: Promise<void> | undefined;
  #ended = false;

  /** Writes started and not yet settled. */
  get count(): number {
    return this.#count;
  }

  /** True once `end()`'s FIN went: writes are refused from then on. */
  get ended(): boolean {
    return this.#ended;
  }

  /**
   * The graceful half-close: once `drained()`, runs `fin` (which sends FIN, or does nothing when
   * the socket is gone) and marks the writes `ended`. Idempotent: later calls get the first one's
   * promise.
   */
  end(fin: () => void | Promise<void>): Promise<void> {
    this.#ending ??= this.drained().then(() => {
      this.#ended = true;
      return fin();
    });
    return this.#ending;
  }

  /** Counts `write` until it settles; returns it unchanged. */
  track<T>(write: Promise<T>): Promise<T> {
    this.#count++;
    const settled = () => {
      if (--this.#count === 0) { for (const f of this.#idle.splice(0)) f(); }
    };
    write.then(settled, settled);
    return write;
  }

  /**
   * Resolves once no write is pending and none started during one turn of the event loop.
   * Never rejects: a write that fails (the socket died) counts as settled.
   */
  async drained(): Promise<void> {
    for (;;) {
      if (this.#count > 0) await new Promise<void>((resolve) => this.#idle.push(resolve));
      // One macrotask: the continuations of the writes that just settled run first, and may write.
      await nextTurn();
      if (this.#count === 0) return;
    }
  }
}
