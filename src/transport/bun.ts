/**
 * Transport over `Bun.connect` and `Bun.listen`. Bun is reached through `globalThis`, so this file
 * type-checks and loads on any runtime; it only works on Bun.
 *
 * @module
 */
import { DisconnectedError } from "../core/errors.ts";
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
  #writes: PendingWrite[] = [];
  #closing = false;
  #writeEnded = false;
  #afterWrites: Array<() => void> = [];
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
    const code = (error as { code?: string }).code ?? error.message;
    this.#queue.fail(new DisconnectedError(`connection to ${this.remote} failed: ${code}`, { cause: error }));
  }

  attach(socket: BunSocket): void {
    this.#socket = socket;
  }

  write(data: Uint8Array): Promise<void> {
    if (this.#closing || this.#writeEnded || this.#isClosed || !this.#socket) {
      return Promise.reject(closedError(this.remote));
    }
    return new Promise((resolve, reject) => {
      this.#writes.push({ data, resolve, reject });
      if (this.#writes.length === 1) this.#flush();
    });
  }

  read(): Promise<Uint8Array | null> {
    return this.#queue.read();
  }

  async closeWrite(): Promise<void> {
    if (this.#closing || this.#writeEnded || this.#isClosed || !this.#socket) return;
    this.#writeEnded = true;
    if (this.#writes.length > 0) await new Promise<void>((resolve) => this.#afterWrites.push(resolve));
    if (this.#isClosed || this.#closing) return;
    // shutdown() sends FIN and keeps the socket readable until the peer closes its side.
    // (shutdown(true) would shut the READ side instead.)
    if (this.#socket.shutdown) this.#socket.shutdown();
    else this.#socket.end();
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
      if (this.#writes.length === 0) this.#socket?.end();
      // else #flush ends the socket once the last pending write is out
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
    for (const f of this.#afterWrites.splice(0)) f();
    if (this.#closing) socket.end();
  }

  onClose(error?: Error): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    if (error) {
      const code = (error as { code?: string }).code ?? error.message;
      this.#queue.fail(new DisconnectedError(`connection to ${this.remote} failed: ${code}`, { cause: error }));
    } else {
      this.#queue.end();
    }
    const writes = this.#writes;
    this.#writes = [];
    for (const w of writes) w.reject(closedError(this.remote, error));
    for (const f of this.#afterWrites.splice(0)) f();
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
    const { remote, blockSize } = checkConnectOptions(options);
    const signal = options.signal;
    if (signal?.aborted) throw connectAborted(remote, signal);
    const api = bun();
    const connection = new BunConnection(remote, blockSize);
    const socket = connection.handlers();
    const attempt = options.path !== undefined
      ? api.connect({ unix: options.path, socket })
      : api.connect({ hostname: options.host ?? "localhost", port: options.port!, socket });
    let sock: BunSocket;
    if (signal) {
      let onAbort!: () => void;
      const aborted = new Promise<never>((_, reject) => {
        onAbort = () => reject(connectAborted(remote, signal));
        signal.addEventListener("abort", onAbort, { once: true });
      });
      try {
        sock = await Promise.race([attempt, aborted]);
      } catch (err) {
        // A connection completing after the abort is closed at once.
        attempt.then((s) => s.terminate ? s.terminate() : s.end(), () => {});
        if (signal.aborted) throw connectAborted(remote, signal);
        throw connectFailed(remote, err);
      } finally {
        signal.removeEventListener("abort", onAbort);
      }
    } else {
      try {
        sock = await attempt;
      } catch (err) {
        throw connectFailed(remote, err);
      }
    }
    connection.attach(sock);
    if (options.path === undefined) sock.setNoDelay?.(true);
    return connection;
  },
  async listen(options: ListenOptions): Promise<Listener> {
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
