/**
 * A listener fed by the runtime's own accept loop (node, Bun).
 *
 * @module
 */
import type { AcceptQueue } from "./accept-queue.ts";
import { removeSocketFile } from "./remove-socket-file.ts";
import type { Connection, Listener } from "./types.ts";

/**
 * A {@link Listener} over an {@link AcceptQueue} the runtime's listening socket feeds (node and
 * Bun): `close()` stops the socket (already accepted connections outlive it), closes what is still
 * queued, and removes the Unix socket file.
 *
 * @example
 * ```ts
 * import { AcceptQueue } from "./accept-queue.ts";
 * import { QueuedListener } from "./queued-listener.ts";
 * const queue = new AcceptQueue();
 * const listener = new QueuedListener(queue, "127.0.0.1:6030", 6030, undefined, () => {});
 * await listener.close();
 * ```
 */
export class QueuedListener implements Listener {
  readonly address: string;
  readonly port: number | undefined;
  readonly path: string | undefined;
  readonly #queue: AcceptQueue;
  readonly #stop: () => void;
  #closing: Promise<void> | undefined;

  /** `stop` stops the listening socket without touching the connections it accepted. */
  constructor(
    queue: AcceptQueue,
    address: string,
    port: number | undefined,
    path: string | undefined,
    stop: () => void,
  ) {
    this.#queue = queue;
    this.address = address;
    this.port = port;
    this.path = path;
    this.#stop = stop;
  }

  /** The next accepted connection; null once closed. */
  accept(): Promise<Connection | null> {
    return this.#queue.accept();
  }

  /** Stops listening; idempotent. */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#stop();
      await this.#queue.close();
      if (this.path !== undefined) await removeSocketFile(this.path);
    })();
    return this.#closing;
  }
}
