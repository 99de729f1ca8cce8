/**
 * Transport over `node:net` (Node, and Deno/Bun through their node compatibility).
 * `node:net` is imported on first connect or listen, so merely importing this file loads nothing.
 *
 * @module
 */
import type { Socket } from "node:net";
import { DisconnectedError, UnsupportedRuntimeError } from "../core/errors.ts";
import {
  AcceptQueue,
  checkConnectOptions,
  checkListenOptions,
  ChunkQueue,
  closedError,
  connectAborted,
  connectFailed,
  type Connection,
  type ConnectOptions,
  type Listener,
  listenFailed,
  type ListenOptions,
  QueuedListener,
  removeSocketFile,
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
  #writeEnded: Promise<void> | undefined;
  #isClosed = false;
  #error: Error | undefined;

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
      this.#error ??= err;
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
      let inKernel = false;
      const queued = socket.writableLength;
      socket.write(data, (err) => {
        if (err) reject(closedError(this.remote, err));
        // Node calls back without an error for writes still in flight when the socket is destroyed
        // (a reset with writes queued): those bytes never left, so only a live socket counts.
        else if (!inKernel && (socket.destroyed || this.#error)) reject(closedError(this.remote, this.#error));
        else resolve();
      });
      // Not queued after write() returned: the kernel took the bytes synchronously, and a destroy
      // later in this tick (before the callback) cannot take them back.
      inKernel = socket.writableLength <= queued;
    });
  }

  read(): Promise<Uint8Array | null> {
    return this.#queue.read();
  }

  closeWrite(): Promise<void> {
    const socket = this.#socket;
    if (this.#closing || this.#isClosed || socket.destroyed) return Promise.resolve();
    // end() flushes what is already written, then sends FIN; reading goes on until the peer's.
    this.#writeEnded ??= new Promise((resolve) => socket.end(() => resolve()));
    return this.#writeEnded;
  }

  destroy(): void {
    this.#closing = true;
    this.#queue.clear();
    this.#socket.destroy();
  }

  close(): Promise<void> {
    if (!this.#closing) {
      this.#closing = true;
      this.#queue.clear();
      const socket = this.#socket;
      // end() flushes what is already written; destroy() then releases the fd without
      // waiting for the peer's FIN. After closeWrite() the flush is its end(): destroying
      // before it finishes would drop writes still in flight.
      if (this.#writeEnded) void this.#writeEnded.then(() => socket.destroy());
      else if (!socket.destroyed) socket.end(() => socket.destroy());
      socket.resume(); // a paused socket would never see its close
    }
    return this.closed;
  }
}

type NodeNet = typeof import("node:net");

/**
 * `node:net`, or a typed error where there is none: a browser bundle stubs the module out (an
 * empty object, or an import that fails), which would otherwise surface as "undefined is not a
 * function" at the first connect.
 */
async function loadNet(): Promise<NodeNet> {
  let net: Partial<NodeNet> | undefined;
  try {
    net = await import("node:net");
  } catch (e) {
    throw new UnsupportedRuntimeError(NO_SOCKETS, { cause: e });
  }
  if (typeof net?.createConnection !== "function" || typeof net.createServer !== "function") {
    throw new UnsupportedRuntimeError(NO_SOCKETS);
  }
  return net as NodeNet;
}

const NO_SOCKETS = "no TCP or Unix sockets in this runtime: IKC needs Deno, Bun or Node " +
  "(a browser cannot open raw sockets, and a bundle for one stubs node:net out)";

/**
 * Transport over `node:net`: TCP (`host`/`port`, Nagle disabled) and Unix sockets (`path`), to
 * connect and to listen.
 *
 * @example
 * ```ts
 * import { nodeTransport } from "./node.ts";
 * const conn = await nodeTransport.connect({ host: "127.0.0.1", port: 603, signal: AbortSignal.timeout(5000) });
 * for (let chunk; (chunk = await conn.read()) !== null;) console.log(chunk.byteLength);
 *
 * const listener = await nodeTransport.listen({ path: "/tmp/ikc.sock" });
 * const accepted = await listener.accept(); // null once listener.close() was called
 * ```
 */
export const nodeTransport: Transport = {
  name: "node",
  async connect(options: ConnectOptions & { blockSize?: number }): Promise<Connection> {
    const { remote, blockSize } = checkConnectOptions(options);
    const signal = options.signal;
    if (signal?.aborted) throw connectAborted(remote, signal);
    const net = await loadNet();
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
  async listen(options: ListenOptions): Promise<Listener> {
    const { address, host, port, path, blockSize } = checkListenOptions(options);
    const net = await loadNet();
    if (path !== undefined) await removeSocketFile(path);
    const queue = new AcceptQueue();
    const server = net.createServer((socket) => {
      // Wrapped at once: its data listener is attached before any byte can be emitted.
      if (path === undefined) socket.setNoDelay(true);
      const remote = path ?? (socket.remoteAddress ? `${socket.remoteAddress}:${socket.remotePort}` : address);
      queue.push(new NodeConnection(socket, remote, blockSize));
    });
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error) => reject(listenFailed(address, err));
      server.once("error", onError);
      server.listen(path !== undefined ? { path } : { host, port }, () => {
        server.off("error", onError);
        resolve();
      });
    });
    // Later errors are failed accepts (EMFILE...); node keeps listening, and nobody waits on them.
    server.on("error", () => {});
    // Not server.close(callback): that waits for every accepted connection to end, and those
    // outlive the listener.
    const stop = () => void server.close();
    if (path !== undefined) return new QueuedListener(queue, path, undefined, path, stop);
    const bound = (server.address() as { port: number }).port;
    return new QueuedListener(queue, `${host}:${bound}`, bound, undefined, stop);
  },
};
