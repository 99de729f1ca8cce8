/**
 * An in-process transport for tests that need no sockets: listeners live in a registry private to
 * each {@link memoryTransport} instance, and a connect to a listening port or path gets a
 * connected pair of {@link MemoryConnection}s. Nothing here knows about IKC.
 *
 * @module
 */
import { ConnectError, DisconnectedError } from "../core/errors.ts";
import { AcceptQueue } from "./accept-queue.ts";
import { checkConnectOptions, checkListenOptions, DEFAULT_BLOCK_SIZE } from "./check-options.ts";
import { ChunkQueue } from "./chunk-queue.ts";
import { closedError, connectAborted, connectFailed, listenFailed } from "./errors.ts";
import { PendingWrites } from "./pending-writes.ts";
import type { Connection, ConnectOptions, Listener, ListenOptions, Transport } from "./types.ts";

/** Default {@link MemoryTransportOptions.window}: about what a loopback socket pair buffers. */
const DEFAULT_WINDOW = 1024 * 1024;

const NO_TLS = "the memory transport has no TLS: tls is an option of the node, deno and bun transports";

/** Where port 0 starts looking for a free port: the IANA dynamic range. */
const FIRST_DYNAMIC_PORT = 49152;

/**
 * Options of {@link memoryTransport} and {@link MemoryConnection.pair}.
 *
 * @example
 * ```ts
 * import { memoryTransport, type MemoryTransportOptions } from "./memory.ts";
 * const options: MemoryTransportOptions = { window: 64 * 1024 };
 * const transport = memoryTransport(options);
 * ```
 */
export interface MemoryTransportOptions {
  /**
   * Bytes one direction holds unread before further writes wait for the reader (default 1 MiB),
   * like a socket's kernel buffers. A single write is always taken whole, however large.
   */
  window?: number;
}

/**
 * One end of a {@link MemoryConnection.pair}, as given to it.
 *
 * @example
 * ```ts
 * import type { MemoryEnd } from "./memory.ts";
 * const end: MemoryEnd = { remote: "client", blockSize: 1024 };
 * ```
 */
export interface MemoryEnd {
  /** What this end's `remote` says (default `"memory"`). */
  remote?: string;
  /** Largest chunk one `read()` of this end returns (default 65535). */
  blockSize?: number;
}

interface PendingWrite {
  data: Uint8Array;
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * One end of an in-memory connection. Bytes written are copied and reach the peer's `read()` a
 * microtask later, never synchronously; `closeWrite()` half-closes (the peer reads null and can
 * still write back), `close()` closes both ways once pending writes are delivered, and `destroy()`
 * simulates a reset.
 *
 * @example
 * ```ts
 * import { MemoryConnection } from "./memory.ts";
 * const [a, b] = MemoryConnection.pair({ remote: "b" }, { remote: "a", blockSize: 4 });
 * await a.write(new TextEncoder().encode("hello"));
 * await b.read(); // "hell"
 * await b.read(); // "o"
 * a.destroy(new Error("cable cut")); // b's next read rejects with DisconnectedError
 * ```
 */
export class MemoryConnection implements Connection {
  readonly remote: string;
  readonly closed: Promise<void>;
  readonly #incoming: ChunkQueue;
  #peer!: MemoryConnection;
  #outgoing: PendingWrite[] = [];
  readonly #pending = new PendingWrites();
  /** The peer holds a full window unread: writes wait (except on close, which flushes). */
  #blocked = false;
  #scheduled = false;
  #writeEnded = false;
  #finSent = false;
  #finWaiters: Array<() => void> = [];
  #closing = false;
  #isClosed = false;
  #resolveClosed!: () => void;

  private constructor(remote: string, blockSize: number, window: number) {
    this.remote = remote;
    this.#incoming = new ChunkQueue(
      blockSize,
      Math.max(window, blockSize),
      () => (this.#peer.#blocked = true),
      () => {
        this.#peer.#blocked = false;
        this.#peer.#schedule();
      },
    );
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
  }

  /**
   * Two connected ends: what one writes, the other reads. Throws ConnectError on a block size or
   * window that is not a positive integer.
   *
   * @example
   * ```ts
   * import { MemoryConnection } from "./memory.ts";
   * const [client, server] = MemoryConnection.pair({ remote: "server" }, { remote: "client" });
   * ```
   */
  static pair(
    first: MemoryEnd = {},
    second: MemoryEnd = {},
    options: MemoryTransportOptions = {},
  ): [MemoryConnection, MemoryConnection] {
    const window = checkWindow(options.window);
    const a = new MemoryConnection(first.remote ?? "memory", checkBlockSize(first.blockSize), window);
    const b = new MemoryConnection(second.remote ?? "memory", checkBlockSize(second.blockSize), window);
    a.#peer = b;
    b.#peer = a;
    return [a, b];
  }

  write(data: Uint8Array): Promise<void> {
    if (this.#writeEnded || this.#isClosed) return Promise.reject(closedError(this.remote));
    return this.#pending.track(
      new Promise((resolve, reject) => {
        // Copied now: the caller may reuse its buffer as soon as write() returns.
        this.#outgoing.push({ data: new Uint8Array(data), resolve, reject });
        this.#schedule();
      }),
    );
  }

  read(): Promise<Uint8Array | null> {
    return this.#incoming.read();
  }

  get queuedBytes(): number {
    return this.#incoming.bufferedBytes;
  }

  closeWrite(): Promise<void> {
    // FIN once the writes, those issued while they drain included, are delivered.
    return this.#pending.end(() => {
      if (this.#isClosed || this.#finSent) return;
      this.#writeEnded = true;
      return new Promise<void>((resolve) => {
        this.#finWaiters.push(resolve);
        this.#schedule();
      });
    });
  }

  close(): Promise<void> {
    // Like a local close of a socket: unread bytes are dropped, pending reads return null.
    this.#incoming.clear();
    if (!this.#closing && !this.#isClosed) {
      this.#closing = true; // what is queued goes out whatever the window
      this.#schedule();
      void this.closeWrite();
    }
    return this.closed;
  }

  /**
   * Simulates a connection reset: this end closes at once (pending writes reject, reads return
   * null); a microtask later the peer's pending and next reads reject with DisconnectedError
   * (`cause`: `error`), its writes reject, and its `closed` resolves.
   *
   * @example
   * ```ts
   * import { MemoryConnection } from "./memory.ts";
   * const [a, b] = MemoryConnection.pair();
   * const pending = b.read();
   * a.destroy(new Error("reset"));
   * await pending.catch((e) => console.log(e.name)); // "DisconnectedError"
   * ```
   */
  destroy(error?: unknown): void {
    this.#incoming.clear();
    if (this.#isClosed) return;
    this.#shut(error);
    const peer = this.#peer;
    queueMicrotask(() => {
      if (peer.#isClosed) return;
      peer.#incoming.reset(
        new DisconnectedError(
          `connection to ${peer.remote} failed: ECONNRESET`,
          error === undefined ? undefined : { cause: error },
        ),
      );
      peer.#shut(error);
    });
  }

  #schedule(): void {
    if (this.#scheduled) return;
    this.#scheduled = true;
    // Delivery is always a microtask later: a write never runs the peer's reader synchronously.
    queueMicrotask(() => {
      this.#scheduled = false;
      this.#pump();
    });
  }

  #pump(): void {
    if (this.#isClosed) return;
    const peer = this.#peer;
    while (this.#outgoing.length > 0) {
      if (peer.#isClosed || peer.#closing) {
        // The peer is gone: like a write that meets a closed socket (EPIPE).
        for (const w of this.#outgoing.splice(0)) w.reject(closedError(this.remote));
        break;
      }
      if (this.#blocked && !this.#closing) return;
      const w = this.#outgoing.shift()!;
      peer.#incoming.push(w.data); // may block us: the peer's queue calls its pause hook
      w.resolve();
    }
    if (!this.#writeEnded) return;
    if (!this.#finSent) {
      this.#finSent = true;
      peer.#incoming.end();
      for (const f of this.#finWaiters.splice(0)) f();
    }
    // close() ends both ways; so do two half-closes, as with TCP.
    if (this.#closing || peer.#finSent) {
      peer.#shut();
      this.#shut();
    }
  }

  #shut(error?: unknown): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    this.#writeEnded = true;
    for (const w of this.#outgoing.splice(0)) w.reject(closedError(this.remote, error));
    for (const f of this.#finWaiters.splice(0)) f();
    this.#resolveClosed();
  }
}

function checkWindow(window: number | undefined): number {
  const w = window ?? DEFAULT_WINDOW;
  if (!Number.isInteger(w) || w < 1) {
    throw new ConnectError(`memory transport: window must be a positive integer, got ${w}`);
  }
  return w;
}

function checkBlockSize(blockSize: number | undefined): number {
  const b = blockSize ?? DEFAULT_BLOCK_SIZE;
  if (!Number.isInteger(b) || b < 1) {
    throw new ConnectError(`memory transport: blockSize must be a positive integer, got ${b}`);
  }
  return b;
}

class MemoryListener implements Listener {
  readonly address: string;
  readonly port: number | undefined;
  readonly path: string | undefined;
  readonly #queue = new AcceptQueue();
  readonly #blockSize: number;
  readonly #window: number;
  readonly #unregister: () => void;
  #accepted = 0;
  #closing: Promise<void> | undefined;

  constructor(
    address: string,
    port: number | undefined,
    path: string | undefined,
    blockSize: number,
    window: number,
    unregister: () => void,
  ) {
    this.address = address;
    this.port = port;
    this.path = path;
    this.#blockSize = blockSize;
    this.#window = window;
    this.#unregister = unregister;
  }

  /** The client's end of a new connection; the server's end waits in the accept queue. */
  open(remote: string, blockSize: number): MemoryConnection {
    const serverRemote = this.path ?? `memory:${++this.#accepted}`;
    const [client, server] = MemoryConnection.pair(
      { remote, blockSize },
      { remote: serverRemote, blockSize: this.#blockSize },
      { window: this.#window },
    );
    this.#queue.push(server);
    return client;
  }

  accept(): Promise<Connection | null> {
    return this.#queue.accept();
  }

  close(): Promise<void> {
    this.#closing ??= (() => {
      this.#unregister();
      return this.#queue.close();
    })();
    return this.#closing;
  }
}

/**
 * A new in-memory transport with its own registry of listeners: `listen({ port })` or
 * `listen({ path })` registers (port 0 picks a free number, `host` is ignored), and `connect` to
 * the same port or path gets a connected pair; connecting where nothing listens rejects with
 * ConnectError (ECONNREFUSED, or ENOENT for a path), listening where something does with
 * ConnectError (EADDRINUSE). Connections are {@link MemoryConnection}s.
 *
 * @example
 * ```ts
 * import { memoryTransport } from "./memory.ts";
 * const transport = memoryTransport();
 * const listener = await transport.listen({ port: 0 });
 * const client = await transport.connect({ port: listener.port! });
 * const server = (await listener.accept())!;
 * await client.write(new TextEncoder().encode("ping"));
 * console.log(await server.read()); // "ping"
 * await client.close();
 * await listener.close();
 * ```
 */
export function memoryTransport(options: MemoryTransportOptions = {}): Transport {
  const window = checkWindow(options.window);
  const addresses = new AddressBook();
  return {
    name: "memory",
    async connect(options: ConnectOptions & { blockSize?: number }): Promise<Connection> {
      if (options.tls !== undefined) throw new TypeError(NO_TLS);
      const { remote, blockSize } = checkConnectOptions(options);
      const signal = options.signal;
      if (signal?.aborted) throw connectAborted(remote, signal);
      await Promise.resolve(); // a connect always completes later, as on a socket
      if (signal?.aborted) throw connectAborted(remote, signal);
      return addresses.find(options, remote).open(remote, blockSize);
    },
    // async though nothing waits: a bind error must reject, not throw.
    // deno-lint-ignore require-await
    async listen(options: ListenOptions): Promise<Listener> {
      if (options.tls !== undefined) throw new TypeError(NO_TLS);
      return addresses.bind(checkListenOptions(options), window);
    },
  };
}

/** One memory transport's listeners, by port or path, and the ports it hands out for port 0. */
class AddressBook {
  readonly #listeners = new Map<string, MemoryListener>();
  #nextPort = FIRST_DYNAMIC_PORT;

  /** The listener a connect reaches, or the error a socket would give. */
  find(options: ConnectOptions, remote: string): MemoryListener {
    const unix = options.path !== undefined;
    const listener = this.#listeners.get(unix ? `path:${options.path}` : `port:${options.port}`);
    if (listener) return listener;
    const code = unix ? "ENOENT" : "ECONNREFUSED";
    throw connectFailed(
      remote,
      Object.assign(new Error(unix ? "no listener at that path" : "nothing listens"), { code }),
    );
  }

  /** A new listener on the path or port (a free one for port 0), or the error a bind would give. */
  bind(o: ReturnType<typeof checkListenOptions>, window: number): MemoryListener {
    const failed = (message: string, code: string) =>
      listenFailed(o.address, Object.assign(new Error(message), { code }));
    const bound = o.path !== undefined ? undefined : o.port === 0 ? this.#freePort() : o.port;
    if (o.path === undefined && bound === undefined) throw failed("no free port", "EADDRNOTAVAIL");
    const key = o.path !== undefined ? `path:${o.path}` : `port:${bound}`;
    if (this.#listeners.has(key)) throw failed("address in use", "EADDRINUSE");
    const address = o.path ?? `${o.host}:${bound}`;
    const listener = new MemoryListener(address, bound, o.path, o.blockSize, window, () => this.#listeners.delete(key));
    this.#listeners.set(key, listener);
    return listener;
  }

  #freePort(): number | undefined {
    for (let i = 0; i < 65535; i++) {
      const port = this.#nextPort;
      this.#nextPort = port >= 65535 ? 1024 : port + 1;
      if (!this.#listeners.has(`port:${port}`)) return port;
    }
    return undefined;
  }
}
