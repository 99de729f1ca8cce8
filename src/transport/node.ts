/**
 * Transport over `node:net` (Node, and Deno/Bun through their node compatibility).
 * `node:net` is imported on first connect, so merely importing this file loads nothing.
 *
 * @module
 */
import type { Socket } from "node:net";
import { DisconnectedError } from "../core/errors.ts";
import {
  checkConnectOptions,
  ChunkQueue,
  closedError,
  type ConnectOptions,
  type Connection,
  connectAborted,
  connectFailed,
  type Transport,
} from "./types.ts";

/** Blocks queued before the socket is paused. */
const HIGH_WATER_BLOCKS = 4;

class NodeConnection implements Connection {
  readonly remote: string;
  readonly closed: Promise<void>;
  readonly #socket: Socket;
  readonly #queue: ChunkQueue;
  #closing = false;
  #writeEnded = false;
  #isClosed = false;

  constructor(socket: Socket, remote: string, blockSize: number) {
    this.remote = remote;
    this.#socket = socket;
    this.#queue = new ChunkQueue(
      blockSize,
      HIGH_WATER_BLOCKS * blockSize,
      () => socket.pause(),
      () => socket.resume(),
    );
    let resolveClosed!: () => void;
    this.closed = new Promise((resolve) => (resolveClosed = resolve));
    socket.on("data", (chunk: Uint8Array) => this.#queue.push(chunk));
    socket.on("end", () => this.#queue.end());
    socket.on("error", (err: Error & { code?: string }) => {
      this.#queue.fail(
        new DisconnectedError(`connection to ${remote} failed: ${err.code ?? err.message}`, { cause: err }),
      );
    });
    socket.on("close", () => {
      this.#isClosed = true;
      this.#queue.end();
      resolveClosed();
    });
  }

  write(data: Uint8Array): Promise<void> {
    const socket = this.#socket;
    if (this.#closing || this.#writeEnded || this.#isClosed || socket.destroyed || !socket.writable) {
      return Promise.reject(closedError(this.remote));
    }
    return new Promise((resolve, reject) => {
      socket.write(data, (err) => (err ? reject(closedError(this.remote, err)) : resolve()));
    });
  }

  read(): Promise<Uint8Array | null> {
    return this.#queue.read();
  }

  closeWrite(): Promise<void> {
    const socket = this.#socket;
    if (this.#closing || this.#writeEnded || this.#isClosed || socket.destroyed) return Promise.resolve();
    this.#writeEnded = true;
    // end() flushes what is already written, then sends FIN; reading goes on until the peer's.
    return new Promise((resolve) => socket.end(() => resolve()));
  }

  close(): Promise<void> {
    if (!this.#closing) {
      this.#closing = true;
      this.#queue.clear();
      const socket = this.#socket;
      // end() flushes what is already written; destroy() then releases the fd without
      // waiting for the peer's FIN.
      if (this.#writeEnded) socket.destroy();
      else if (!socket.destroyed) socket.end(() => socket.destroy());
      socket.resume(); // a paused socket would never see its close
    }
    return this.closed;
  }
}

/**
 * Transport over `node:net`: TCP (`host`/`port`, Nagle disabled) and Unix sockets (`path`).
 *
 * @example
 * ```ts
 * import { nodeTransport } from "./node.ts";
 * const conn = await nodeTransport.connect({ host: "127.0.0.1", port: 603, signal: AbortSignal.timeout(5000) });
 * for (let chunk; (chunk = await conn.read()) !== null;) console.log(chunk.byteLength);
 * ```
 */
export const nodeTransport: Transport = {
  name: "node",
  async connect(options: ConnectOptions & { blockSize?: number }): Promise<Connection> {
    const { remote, blockSize } = checkConnectOptions(options);
    const signal = options.signal;
    if (signal?.aborted) throw connectAborted(remote, signal);
    const net = await import("node:net");
    if (signal?.aborted) throw connectAborted(remote, signal);
    const socket = options.path !== undefined
      ? net.createConnection({ path: options.path })
      : net.createConnection({ host: options.host ?? "localhost", port: options.port! });
    await new Promise<void>((resolve, reject) => {
      const done = () => {
        socket.off("connect", onConnect);
        socket.off("error", onError);
        signal?.removeEventListener("abort", onAbort);
      };
      const onConnect = () => {
        done();
        resolve();
      };
      const onError = (err: Error) => {
        done();
        socket.destroy();
        reject(connectFailed(remote, err));
      };
      const onAbort = () => {
        done();
        socket.on("error", () => {}); // a late connect error must not go unhandled
        socket.destroy();
        reject(connectAborted(remote, signal!));
      };
      socket.once("connect", onConnect);
      socket.once("error", onError);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
    if (options.path === undefined) socket.setNoDelay(true);
    return new NodeConnection(socket, remote, blockSize);
  },
};
