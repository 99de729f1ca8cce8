/**
 * Transport over `node:net` and `node:tls` (Node, and Deno/Bun through their node compatibility).
 * The modules are imported on first connect or listen, so merely importing this file loads nothing.
 *
 * @module
 */
import type { Socket } from "node:net";
import type { TLSSocket } from "node:tls";
import { UnsupportedRuntimeError } from "../core/errors.ts";
import { AcceptQueue } from "./accept-queue.ts";
import { checkConnectOptions, checkListenOptions } from "./check-options.ts";
import { checkConnectTls, checkListenTls } from "./check-tls-options.ts";
import { ChunkQueue, HIGH_WATER_BLOCKS } from "./chunk-queue.ts";
import { connectWithAbort } from "./connect-with-abort.ts";
import { closedError, listenFailed, socketFailed, tlsFailed } from "./errors.ts";
import { PendingWrites } from "./pending-writes.ts";
import { QueuedListener } from "./queued-listener.ts";
import { removeSocketFile } from "./remove-socket-file.ts";
import { tlsPeerOf } from "./tls-peer.ts";
import type { Connection, ConnectOptions, Listener, ListenOptions, TlsPeer, Transport } from "./types.ts";

class NodeConnection implements Connection {
  readonly remote: string;
  readonly closed: Promise<void>;
  readonly tls: TlsPeer | undefined;
  readonly #socket: Socket;
  readonly #queue: ChunkQueue;
  readonly #pending = new PendingWrites();
  #closing = false;
  #isClosed = false;
  #error: Error | undefined;

  constructor(socket: Socket, remote: string, blockSize: number) {
    this.remote = remote;
    this.#socket = socket;
    this.tls = (socket as TLSSocket).encrypted ? tlsPeerOf(socket as TLSSocket) : undefined;
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
    socket.on("error", (err: Error) => {
      this.#error ??= err;
      this.#queue.fail(socketFailed(remote, err));
    });
    socket.on("close", () => {
      this.#isClosed = true;
      this.#queue.end();
      resolveClosed();
    });
  }

  write(data: Uint8Array): Promise<void> {
    const socket = this.#socket;
    if (this.#pending.ended || this.#isClosed || socket.destroyed || !socket.writable) {
      return Promise.reject(closedError(this.remote));
    }
    return this.#pending.track(
      new Promise((resolve, reject) => {
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
      }),
    );
  }

  read(): Promise<Uint8Array | null> {
    return this.#queue.read();
  }

  get queuedBytes(): number {
    return this.#queue.bufferedBytes;
  }

  closeWrite(): Promise<void> {
    const socket = this.#socket;
    // end() sends FIN (after TLS's close_notify); reading goes on until the peer's.
    return this.#pending.end(() =>
      this.#isClosed || socket.destroyed ? undefined : new Promise<void>((resolve) => socket.end(() => resolve()))
    );
  }

  destroy(): void {
    this.#closing = true;
    this.#queue.clear();
    // Not resetAndDestroy(): with a shutdown in flight (after end()) libuv refuses the reset and
    // node's loop spins on the socket. destroy() releases the fd at once all the same.
    this.#socket.destroy();
  }

  close(): Promise<void> {
    if (!this.#closing) {
      this.#closing = true;
      this.#queue.clear();
      const socket = this.#socket;
      socket.resume(); // a paused socket would never see its close
      // The flush of closeWrite(); destroy() then releases the fd without waiting for the peer's FIN.
      void this.closeWrite().then(() => socket.destroy());
    }
    return this.closed;
  }
}

type NodeNet = typeof import("node:net");
type NodeTls = typeof import("node:tls");

/**
 * `node:net` (or `node:tls`), or a typed error where there is none: a browser bundle stubs the
 * modules out (an empty object, or an import that fails), which would otherwise surface as
 * "undefined is not a function" at the first connect.
 */
async function load<T extends "node:net" | "node:tls">(name: T): Promise<T extends "node:net" ? NodeNet : NodeTls> {
  let mod: Record<string, unknown> | undefined;
  try {
    mod = name === "node:net" ? await import("node:net") : await import("node:tls");
  } catch (e) {
    throw new UnsupportedRuntimeError(NO_SOCKETS, { cause: e });
  }
  const open = name === "node:net" ? mod?.createConnection : mod?.connect;
  if (typeof open !== "function" || typeof mod?.createServer !== "function") {
    throw new UnsupportedRuntimeError(NO_SOCKETS);
  }
  return mod as unknown as T extends "node:net" ? NodeNet : NodeTls;
}

const NO_SOCKETS = "no TCP or Unix sockets in this runtime: IKC needs Deno, Bun or Node " +
  "(a browser cannot open raw sockets, and a bundle for one stubs node:net out)";

/** Opens the socket: resolves once it is connected (and its TLS handshake done). */
async function open(options: ConnectOptions, remote: string): Promise<Socket> {
  const where = options.path !== undefined
    ? { path: options.path }
    : { host: options.host ?? "localhost", port: options.port! };
  const tls = checkConnectTls(options.tls);
  let socket: Socket;
  let ready: string;
  if (tls) {
    const tlsMod = await load("node:tls");
    const name = tls.serverName ?? where.host ?? "localhost";
    socket = tlsMod.connect({
      ...where,
      ca: tls.ca,
      cert: tls.cert,
      key: tls.key,
      // SNI takes host names only; the name verified is `name` either way.
      servername: isIp(name) ? undefined : name,
      checkServerIdentity: (_host, cert) => tlsMod.checkServerIdentity(name, cert),
      rejectUnauthorized: tls.rejectUnauthorized,
    });
    ready = "secureConnect";
  } else {
    socket = (await load("node:net")).createConnection(where);
    ready = "connect";
  }
  let connected = false;
  socket.once("connect", () => (connected = true));
  // An abort destroys the socket, in its handshake too; connectWithAbort reports it.
  const onAbort = () => socket.destroy();
  options.signal?.addEventListener("abort", onAbort, { once: true });
  return await new Promise<Socket>((resolve, reject) => {
    const onReady = () => {
      options.signal?.removeEventListener("abort", onAbort);
      socket.off("error", onError);
      resolve(socket);
    };
    const onError = (err: Error) => {
      options.signal?.removeEventListener("abort", onAbort);
      socket.off(ready, onReady);
      socket.on("error", () => {}); // a second error must not go unhandled
      socket.destroy();
      // A socket that connected and then failed, failed in its handshake.
      reject(tls && connected ? tlsFailed(remote, err) : err);
    };
    socket.once(ready, onReady);
    socket.once("error", onError);
  });
}

function isIp(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(":");
}

/** The `node:tls` server options of a checked {@link ListenOptions.tls}. */
function serverTls(options: ListenOptions): Record<string, unknown> {
  const tls = checkListenTls(options.tls);
  return {
    cert: tls.cert,
    key: tls.key,
    ca: tls.ca,
    requestCert: tls.requestCert,
    rejectUnauthorized: tls.requestCert && tls.rejectUnauthorized,
    handshakeTimeout: tls.handshakeTimeout,
  };
}

/**
 * Transport over `node:net` and `node:tls`: TCP (`host`/`port`, Nagle disabled) and Unix sockets
 * (`path`), plain or TLS, to connect and to listen.
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
    const socket = await connectWithAbort(() => open(options, remote), remote, options.signal, (s) => s.destroy());
    if (options.path === undefined) socket.setNoDelay(true);
    return new NodeConnection(socket, remote, blockSize);
  },
  async listen(options: ListenOptions): Promise<Listener> {
    const { address, host, port, path, blockSize } = checkListenOptions(options);
    const tls = options.tls === undefined ? undefined : serverTls(options);
    const queue = new AcceptQueue();
    const onSocket = (socket: Socket) => {
      // Wrapped at once: its data listener is attached before any byte can be emitted.
      if (path === undefined) socket.setNoDelay(true);
      const remote = path ?? (socket.remoteAddress ? `${socket.remoteAddress}:${socket.remotePort}` : address);
      queue.push(new NodeConnection(socket, remote, blockSize));
    };
    // With TLS, a connection is handed out once its handshake succeeded; a refused one
    // ("tlsClientError") is dropped by node:tls and never seen here.
    const server = tls
      ? (await load("node:tls")).createServer(tls, onSocket)
      : (await load("node:net")).createServer(onSocket);
    if (path !== undefined) await removeSocketFile(path);
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
