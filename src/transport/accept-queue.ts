/**
 * The queue of accepted connections of the transports whose runtime accepts on its own.
 *
 * @module
 */
import type { Connection } from "./types.ts";

/**
 * Accepted connections waiting for {@link Listener.accept}, for the transports whose runtime
 * accepts on its own (node, Bun, memory). Internal to the transports, exported for them and tests.
 *
 * @example
 * ```ts
 * import { AcceptQueue } from "./accept-queue.ts";
 * import { nodeTransport } from "./node.ts";
 * const q = new AcceptQueue();
 * q.push(await nodeTransport.connect({ port: 603 }));
 * const conn = await q.accept(); // the queued connection
 * await q.close(); // later accept() calls return null
 * ```
 */
export class AcceptQueue {
  #conns: Connection[] = [];
  #head = 0;
  #waiters: Array<(conn: Connection | null) => void> = [];
  #closed = false;

  /** True once `close()` was called. */
  get isClosed(): boolean {
    return this.#closed;
  }

  /** Hands `conn` to a waiting `accept()`, or queues it; after `close()` it is closed instead. */
  push(conn: Connection): void {
    if (this.#closed) void conn.close();
    else if (this.#waiters.length > 0) this.#waiters.shift()!(conn);
    else this.#conns.push(conn);
  }

  /** The next connection, in arrival order; null once closed. */
  accept(): Promise<Connection | null> {
    if (this.#head < this.#conns.length) {
      const conn = this.#conns[this.#head];
      this.#conns[this.#head++] = undefined as unknown as Connection;
      if (this.#head === this.#conns.length) {
        this.#conns = [];
        this.#head = 0;
      }
      return Promise.resolve(conn);
    }
    if (this.#closed) return Promise.resolve(null);
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Ends pending and later `accept()` calls with null; resolves once the queued connections are closed. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const w of this.#waiters.splice(0)) w(null);
    const queued = this.#conns.slice(this.#head);
    this.#conns = [];
    this.#head = 0;
    await Promise.all(queued.map((c) => c.close()));
  }
}
