/**
 * Transport over `Bun.connect` and `Bun.listen`. Bun is reached through `globalThis`, so this file
 * type-checks and loads on any runtime; it only works on Bun. TLS goes through Bun's `node:tls`
 * (nodeTransport).
 *
 * @module
 */
import { AcceptQueue } from "./accept-queue.ts";
import { checkConnectOptions, checkListenOptions } from "./check-options.ts";
import { ChunkQueue, HIGH_WATER_BLOCKS } from "./chunk-queue.ts";
import { connectWithAbort } from "./connect-with-abort.ts";
import { closedError, listenFailed, socketFailed } from "./errors.ts";
import { nodeTransport } from "./node.ts";
import { PendingWrites } from "./pending-writes.ts";
import { QueuedListener } from "./queued-listener.ts";
import { removeSocketFile } from "./remove-socket-file.ts";
import type { Connection, ConnectOptions, Listener, ListenOptions, Transport } from "./types.ts";

/** The part of Bun's `Socket` used here. */
interface BunSocket {
  write(data: Uint8Array): number;
  end(): void;
  shutdown?(readSide?: boolean): void;
  terminate?(): void;
  pause?(): void;
  resume?(): void;
  setNoDelay?(noDelay?: boolean): boolean;
  readonly readyState?: unknown;
  readonly remoteAddress?: string;
  readonly remotePort?: number;
  /** Per-socket slot; a listener's sockets keep their BunConnection here. */
  data?: unknown;
}

interface BunHandlers {
  data(socket: BunSocket, data: Uint8Array): void;
  drain(socket: BunSocket): void;
  end(socket: BunSocket): void;
  close(socket: BunSocket, error?: Error): void;
  error(socket: BunSocket, error: Error): void;
  connectError?(socket: BunSocket, error: Error): void;
}

/** The part of Bun's `TCPSocketListener` used here. */
interface BunListener {
  readonly port?: number;
  stop(closeActiveConnections?: boolean): void;
}

interface BunApi {
  connect(
    options: ({ hostname: string; port: number } | { unix: string }) & { socket: BunHandlers },
  ): Promise<BunSocket>;
  listen(
    options: ({ hostname: string; port: number } | { unix: string }) & {
      socket: BunHandlers & { open(socket: BunSocket): void };
    },
  ): BunListener;
}

function bun(): BunApi {
  const api = (globalThis as { Bun?: BunApi }).Bun;
  if (!api) throw new TypeError("bunTransport needs the Bun runtime");
  return api;
}

interface PendingWrite {
  data: Uint8Array;
  resolve(): void;
  reject(err: unknown): void;
}

// Created before Bun.connect so its handlers catch bytes that arrive before the promise resolves.
class BunConnection implements Connection {
  readonly remote: string;
  readonly closed: Promise<void>;
  #socket: BunSocket | undefined;
  readonly #queue: ChunkQueue;
  readonly #pending = new PendingWrites();
  #writes: PendingWrite[] = [];
  #closing = false;
  #isClosed = false;
  #resolveClosed!: () => void;

  constructor(remote: string, blockSize: number) {
    this.remote = remote;
    this.#queue = new ChunkQueue(
      blockSize,
      HIGH_WATER_BLOCKS * blockSize,
      () => this.#socket?.pause?.(),
      () => this.#socket?.resume?.(),
    );
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
  }

  /** Handlers for Bun.connect; bound before the socket is known so no early byte is lost. */
  handlers(): BunHandlers {
    return {
      data: (socket, data) => this.onData(socket, data),
      drain: () => this.onDrain(),
      end: () => this.onEnd(),
      close: (_socket, error) => this.onClose(error),
      error: (_socket, error) => this.onError(error),
    };
  }

  onData(socket: BunSocket, data: Uint8Array): void {
    this.#socket ??= socket;
    this.#queue.push(data);
  }

  onDrain(): void {
    this.#flush();
  }

  onEnd(): void {
    this.#queue.end();
  }

  onError(error: Error): void {
    this.#queue.fail(socketFailed(this.remote, error));
  }

  attach(socket: BunSocket): void {
    this.#socket = socket;
  }

  write(data: Uint8Array): Promise<void> {
    if (this.#pending.ended || this.#isClosed || !this.#socket) return Promise.reject(closedError(this.remote));
    return this.#pending.track(
      new Promise((resolve, reject) => {
        this.#writes.push({ data, resolve, reject });
        if (this.#writes.length === 1) this.#flush();
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
    return this.#pending.end(() => {
      const socket = this.#socket;
      if (this.#isClosed || !socket) return;
      // shutdown() sends FIN and keeps the socket readable until the peer closes its side.
      // (shutdown(true) would shut the READ side instead.)
      if (socket.shutdown) socket.shutdown();
      else socket.end();
    });
  }

  destroy(): void {
    this.#closing = true;
    this.#queue.clear();
    const socket = this.#socket;
    if (socket?.terminate) socket.terminate();
    else socket?.end();
    this.onClose();
  }

  close(): Promise<void> {
    if (!this.#closing) {
      this.#closing = true;
      this.#queue.clear();
      this.#socket?.resume?.();
      void this.closeWrite().then(() => this.#socket?.end());
    }
    return this.closed;
  }

  // Bun's write() takes what the kernel accepts now and returns that count; the rest waits for drain.
  #flush(): void {
    const socket = this.#socket;
    if (!socket || this.#isClosed) return;
    while (this.#writes.length > 0) {
      const w = this.#writes[0];
      const n = socket.write(w.data);
      if (n < 0) {
        this.onClose(new Error("write on a closed socket"));
        return;
      }
      if (n < w.data.byteLength) {
        w.data = w.data.subarray(n);
        return;
      }
      this.#writes.shift();
      w.resolve();
    }
  }

  onClose(error?: Error): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    if (error) this.#queue.fail(socketFailed(this.remote, error));
    else this.#queue.end();
    const writes = this.#writes;
    this.#writes = [];
    for (const w of writes) w.reject(closedError(this.remote, error));
    this.#resolveClosed();
  }
}

// Bun's listen handlers are shared by all the listener's sockets: each finds its connection in
// socket.data, set in open() before any data handler runs.
const acceptedHandlers: BunHandlers = {
  data: (socket, data) => (socket.data as BunConnection).onData(socket, data),
  drain: (socket) => (socket.data as BunConnection).onDrain(),
  end: (socket) => (socket.data as BunConnection).onEnd(),
  close: (socket, error) => (socket.data as BunConnection | undefined)?.onClose(error),
  error: (socket, error) => (socket.data as BunConnection | undefined)?.onError(error),
};

/**
 * Transport over `Bun.connect` and `Bun.listen`: TCP (`host`/`port`, Nagle disabled) and Unix
 * sockets (`path`).
 *
 * @example
 * ```ts
 * import { bunTransport } from "./bun.ts";
 * const conn = await bunTransport.connect({ host: "127.0.0.1", port: 603 });
 * await conn.write(new TextEncoder().encode("HELLO\r\n"));
 * console.log(await conn.read());
 * await conn.close();
 *
 * const listener = await bunTransport.listen({ port: 0 });
 * const accepted = await listener.accept(); // null once listener.close() was called
 * ```
 */
export const bunTransport: Transport = {
  name: "bun",
  async connect(options: ConnectOptions & { blockSize?: number }): Promise<Connection> {
    if (options.tls !== undefined) return await nodeTransport.connect(options);
    const { remote, blockSize } = checkConnectOptions(options);
    const api = bun();
    const connection = new BunConnection(remote, blockSize);
    const socket = connection.handlers();
    const open = () =>
      options.path !== undefined
        ? api.connect({ unix: options.path, socket })
        : api.connect({ hostname: options.host ?? "localhost", port: options.port!, socket });
    const sock = await connectWithAbort(open, remote, options.signal, (s) => s.terminate ? s.terminate() : s.end());
    connection.attach(sock);
    if (options.path === undefined) sock.setNoDelay?.(true);
    return connection;
  },
  async listen(options: ListenOptions): Promise<Listener> {
    if (options.tls !== undefined) return await nodeTransport.listen(options);
    const { address, host, port, path, blockSize } = checkListenOptions(options);
    const api = bun();
    if (path !== undefined) await removeSocketFile(path);
    const queue = new AcceptQueue();
    const socket = {
      ...acceptedHandlers,
      open(sock: BunSocket): void {
        const remote = path ?? (sock.remoteAddress ? `${sock.remoteAddress}:${sock.remotePort}` : address);
        const connection = new BunConnection(remote, blockSize);
        connection.attach(sock);
        sock.data = connection;
        if (path === undefined) sock.setNoDelay?.(true);
        queue.push(connection);
      },
    };
    let listener: BunListener;
    try {
      listener = path !== undefined ? api.listen({ unix: path, socket }) : api.listen({ hostname: host, port, socket });
    } catch (err) {
      throw listenFailed(address, err);
    }
    const stop = () => listener.stop(false); // false: accepted connections outlive the listener
    if (path !== undefined) return new QueuedListener(queue, path, undefined, path, stop);
    return new QueuedListener(queue, `${host}:${listener.port}`, listener.port, undefined, stop);
  },
};
