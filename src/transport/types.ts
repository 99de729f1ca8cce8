/**
 * The byte-stream abstraction the IKC layers run on, and the chunk queue shared by the
 * push-based (event driven) transports. Nothing here knows about IKC.
 *
 * @module
 */
import { ConnectError, DisconnectedError } from "../core/errors.ts";

/**
 * Default {@link Transport.connect} `blockSize`: the most bytes one `read()` returns.
 *
 * @example
 * ```ts
 * import { DEFAULT_BLOCK_SIZE } from "./types.ts";
 * import { nodeTransport } from "./node.ts";
 * const conn = await nodeTransport.connect({ port: 603, blockSize: 4 * DEFAULT_BLOCK_SIZE });
 * ```
 */
export const DEFAULT_BLOCK_SIZE: number = 65535;

/**
 * Where to connect: a TCP `host`/`port`, or a Unix-domain socket `path` (which wins when given).
 *
 * @example
 * ```ts
 * import type { ConnectOptions } from "@poe-ikc/ikc";
 * const tcp: ConnectOptions = { host: "127.0.0.1", port: 603 };
 * const unix: ConnectOptions = { path: "/tmp/ikc.sock", signal: AbortSignal.timeout(5000) };
 * ```
 */
export interface ConnectOptions {
  /** Host name or address (default `localhost`). */
  host?: string;
  /** TCP port; required unless `path` is given. */
  port?: number;
  /** Unix-domain socket path. */
  path?: string;
  /** Aborts the connection attempt (only the attempt: an established connection ignores it). */
  signal?: AbortSignal;
}

/**
 * One established byte-stream connection.
 *
 * Incoming data is queued (or left in the OS buffer) while nobody reads; nothing is lost.
 * A single reader is expected; concurrent `read()` calls are served in call order.
 *
 * @example
 * ```ts
 * import { detectTransport } from "./detect.ts";
 * const conn = await detectTransport().connect({ host: "127.0.0.1", port: 603 });
 * await conn.write(new TextEncoder().encode("HELLO\r\n"));
 * const chunk = await conn.read(); // Uint8Array, or null at EOF
 * await conn.close();
 * ```
 */
export interface Connection {
  /** `host:port` or the Unix socket path, for messages. */
  readonly remote: string;
  /**
   * Resolves when the bytes are handed to the OS; rejects with DisconnectedError once closed.
   * The caller may overwrite `data` as soon as the promise fulfils (the channel reuses its
   * buffers), so an implementation that keeps the bytes longer must copy them.
   */
  write(data: Uint8Array): Promise<void>;
  /**
   * The next chunk of at most `blockSize` bytes; null at EOF and after `close()`.
   * Rejects with DisconnectedError on a socket error (reset, broken pipe).
   */
  read(): Promise<Uint8Array | null>;
  /** Flushes pending writes, then closes. Idempotent; resolves when closed. */
  close(): Promise<void>;
  /**
   * Half-close: flushes pending writes, then sends FIN but keeps reading, so the caller can wait for
   * the peer to close its side (`read()` returning null). Writes fail afterwards. Optional.
   */
  closeWrite?(): Promise<void>;
  /**
   * Closes at once, dropping bytes not yet written (a peer that stopped reading must not hold a
   * close up forever). Idempotent. Optional: callers fall back to `close()`.
   */
  destroy?(error?: unknown): void;
  /** Resolves (never rejects) when the socket is closed for any reason. */
  readonly closed: Promise<void>;
}

/**
 * A way to open and accept {@link Connection}s: `node:net`, Deno's or Bun's sockets, or memory.
 *
 * `connect` rejects with ConnectError when the address is refused, unreachable or unknown, or when
 * `signal` aborts the attempt; `listen` when the address cannot be bound. The message names the
 * address and the OS error code.
 *
 * @example
 * ```ts
 * import type { Transport } from "@poe-ikc/ikc";
 * import { nodeTransport } from "./node.ts";
 * const t: Transport = nodeTransport;
 * const conn = await t.connect({ path: "/tmp/ikc.sock", blockSize: 4096 });
 * const listener = await t.listen({ host: "127.0.0.1", port: 0 });
 * ```
 */
export interface Transport {
  /** `"node"`, `"deno"`, `"bun"` or `"memory"`. */
  readonly name: string;
  /** Opens a connection. `blockSize` (default 65535) caps the bytes returned by one `read()`. */
  connect(options: ConnectOptions & { blockSize?: number }): Promise<Connection>;
  /** Listens for connections. Rejects with ConnectError when the address cannot be bound. */
  listen(options: ListenOptions): Promise<Listener>;
}

/**
 * Where to listen: a TCP `host`/`port` (port 0 picks a free one), or a Unix-domain socket `path`
 * (which wins when given). `blockSize` caps the bytes one `read()` of an accepted connection returns.
 *
 * @example
 * ```ts
 * import type { ListenOptions } from "@poe-ikc/ikc";
 * const tcp: ListenOptions = { host: "127.0.0.1", port: 0 };
 * const unix: ListenOptions = { path: "/tmp/ikc.sock" };
 * ```
 */
export interface ListenOptions {
  /** Address to bind (default `127.0.0.1`). */
  host?: string;
  /** TCP port; 0 (the default) lets the OS pick one. Ignored when `path` is set. */
  port?: number;
  /** Unix-domain socket path. A stale socket file at that path is replaced. */
  path?: string;
  /** Largest chunk one `read()` of an accepted connection returns (default 65535). */
  blockSize?: number;
}

/**
 * A listening socket. Accepted connections are queued until `accept()` takes them; nothing an
 * early client sends is lost while it waits in the queue.
 *
 * @example
 * ```ts
 * import { detectTransport } from "./detect.ts";
 * const listener = await detectTransport().listen({ port: 0 });
 * console.log(listener.port);
 * for (let conn; (conn = await listener.accept()) !== null;) void conn.close();
 * ```
 */
export interface Listener {
  /** `host:port` or the Unix socket path, for messages. */
  readonly address: string;
  /** The bound TCP port (the one the OS picked for port 0); undefined for Unix sockets. */
  readonly port: number | undefined;
  /** The Unix socket path; undefined for TCP. */
  readonly path: string | undefined;
  /** The next accepted connection; null once the listener is closed. */
  accept(): Promise<Connection | null>;
  /**
   * Stops listening (and removes the Unix socket file). Connections already accepted stay open;
   * connections queued but not yet taken by `accept()` are closed. Idempotent.
   */
  close(): Promise<void>;
}

/**
 * The address of a connection, as used in messages: the Unix path, else `host:port`.
 *
 * @example
 * ```ts
 * import { describeRemote } from "./types.ts";
 * describeRemote({ port: 603 }); // "localhost:603"
 * ```
 */
export function describeRemote(options: ConnectOptions): string {
  return options.path !== undefined ? options.path : `${options.host ?? "localhost"}:${options.port}`;
}

interface Waiter {
  resolve(chunk: Uint8Array | null): void;
  reject(err: unknown): void;
}

/**
 * Queue between an event-driven socket (node, Bun) and `Connection.read()`. Chunks arrive with
 * `push`, leave in slices of at most `blockSize` bytes; `pause`/`resume` apply backpressure when
 * more than `highWater` bytes wait. Internal to the transports, exported for them and for tests.
 *
 * @example
 * ```ts
 * import { ChunkQueue } from "./types.ts";
 * const q = new ChunkQueue(4, 16, () => {}, () => {});
 * q.push(new Uint8Array([1, 2, 3, 4, 5, 6]));
 * q.end();
 * await q.read(); // [1, 2, 3, 4]
 * await q.read(); // [5, 6]
 * await q.read(); // null
 * ```
 */
export class ChunkQueue {
  readonly #blockSize: number;
  readonly #highWater: number;
  readonly #pause: () => void;
  readonly #resume: () => void;
  #chunks: Uint8Array[] = [];
  #head = 0;
  #bytes = 0;
  #paused = false;
  #ended = false;
  #error: unknown = undefined;
  #waiters: Waiter[] = [];

  /**
   * `pause` is called when more than `highWater` bytes are queued, `resume` once at most
   * `blockSize` bytes remain.
   */
  constructor(blockSize: number, highWater: number, pause: () => void, resume: () => void) {
    this.#blockSize = blockSize;
    this.#highWater = highWater;
    this.#pause = pause;
    this.#resume = resume;
  }

  /** Bytes queued and not yet read. */
  get bufferedBytes(): number {
    return this.#bytes;
  }

  /** Queues received bytes (ignored after `end`/`fail`). */
  push(chunk: Uint8Array): void {
    if (this.#ended || chunk.byteLength === 0) return;
    // Plain views: node's Buffer has view-returning slice() and breaks deepStrictEqual.
    const data = chunk.constructor === Uint8Array
      ? chunk
      : new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.#waiters.length > 0 && this.#bytes === 0) {
      const first = this.#take(data);
      this.#waiters.shift()!.resolve(first);
      if (data.byteLength === first.byteLength) return;
      this.#enqueue(data.subarray(first.byteLength));
    } else {
      this.#enqueue(data);
    }
    this.#serve();
    if (!this.#paused && this.#bytes > this.#highWater) {
      this.#paused = true;
      this.#pause();
    }
  }

  /** Marks EOF: queued bytes are still read, then `read()` returns null. */
  end(): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#serve();
  }

  /** Marks a socket error: queued bytes are still read, then `read()` rejects with `err`. */
  fail(err: unknown): void {
    if (this.#ended) return;
    this.#error = err;
    this.end();
  }

  /** Drops queued bytes and fails at once: pending and later reads reject with `err` (a reset). */
  reset(err: unknown): void {
    if (this.#ended) return;
    this.#chunks = [];
    this.#head = 0;
    this.#bytes = 0;
    this.fail(err);
  }

  /** Drops queued bytes and ends: pending and later reads return null. */
  clear(): void {
    this.#chunks = [];
    this.#head = 0;
    this.#bytes = 0;
    this.#error = undefined;
    this.#ended = true;
    this.#serve();
  }

  /** The next slice of at most `blockSize` bytes, null at the end. */
  read(): Promise<Uint8Array | null> {
    if (this.#bytes > 0 && this.#waiters.length === 0) {
      return Promise.resolve(this.#shift());
    }
    if (this.#ended && this.#bytes === 0) {
      return this.#error !== undefined ? Promise.reject(this.#error) : Promise.resolve(null);
    }
    return new Promise((resolve, reject) => {
      this.#waiters.push({ resolve, reject });
    });
  }

  #enqueue(data: Uint8Array): void {
    this.#chunks.push(data);
    this.#bytes += data.byteLength;
  }

  #take(data: Uint8Array): Uint8Array {
    return data.byteLength > this.#blockSize ? data.subarray(0, this.#blockSize) : data;
  }

  #shift(): Uint8Array {
    const chunk = this.#chunks[this.#head];
    const out = this.#take(chunk);
    if (out.byteLength === chunk.byteLength) {
      this.#chunks[this.#head++] = undefined as unknown as Uint8Array;
      if (this.#head > 1024 && this.#head * 2 > this.#chunks.length) {
        this.#chunks = this.#chunks.slice(this.#head);
        this.#head = 0;
      }
    } else {
      this.#chunks[this.#head] = chunk.subarray(out.byteLength);
    }
    this.#bytes -= out.byteLength;
    if (this.#paused && this.#bytes <= this.#blockSize) {
      this.#paused = false;
      this.#resume();
    }
    return out;
  }

  #serve(): void {
    while (this.#waiters.length > 0) {
      if (this.#bytes > 0) {
        this.#waiters.shift()!.resolve(this.#shift());
      } else if (this.#ended) {
        const w = this.#waiters.shift()!;
        if (this.#error !== undefined) w.reject(this.#error);
        else w.resolve(null);
      } else {
        return;
      }
    }
  }
}

/**
 * The error `write()` rejects with on a closed connection.
 *
 * @example
 * ```ts
 * import { closedError } from "./types.ts";
 * const err = closedError("127.0.0.1:603"); // DisconnectedError
 * ```
 */
export function closedError(remote: string, cause?: unknown): DisconnectedError {
  return new DisconnectedError(`connection to ${remote} is closed`, cause === undefined ? undefined : { cause });
}

/** OS error code of a failed socket call (`ECONNREFUSED`...), looking inside AggregateError too. */
function errorCode(err: unknown): string | undefined {
  const e = err as { code?: unknown; errors?: unknown[] } | undefined;
  if (e && typeof e.code === "string") return e.code;
  if (e && Array.isArray(e.errors) && e.errors.length > 0) return errorCode(e.errors[0]);
  return undefined;
}

/**
 * The error a transport rejects `connect()` with when the OS refuses: names the address and code.
 *
 * @example
 * ```ts
 * import { connectFailed } from "./types.ts";
 * const err = connectFailed("127.0.0.1:1", Object.assign(new Error("refused"), { code: "ECONNREFUSED" }));
 * err.message; // "connect to 127.0.0.1:1 failed: ECONNREFUSED (refused)"
 * ```
 */
export function connectFailed(remote: string, err: unknown): ConnectError {
  const code = errorCode(err);
  const text = err instanceof Error ? err.message : String(err);
  return new ConnectError(`connect to ${remote} failed: ${code ?? "error"} (${text})`, { cause: err });
}

/**
 * The error a transport rejects `connect()` with when its AbortSignal fires; `cause` is the signal's reason.
 *
 * @example
 * ```ts
 * import { connectAborted } from "./types.ts";
 * const ac = new AbortController();
 * ac.abort();
 * connectAborted("localhost:603", ac.signal).message; // "connect to localhost:603 aborted"
 * ```
 */
export function connectAborted(remote: string, signal: AbortSignal): ConnectError {
  return new ConnectError(`connect to ${remote} aborted`, { cause: signal.reason });
}

/**
 * Checks connect options before a transport uses them; returns the remote description and block size.
 * Throws ConnectError when neither a port nor a path is given, or the block size is not a positive integer.
 *
 * @example
 * ```ts
 * import { checkConnectOptions } from "./types.ts";
 * checkConnectOptions({ host: "::1", port: 603 }); // { remote: "::1:603", blockSize: 65535 }
 * ```
 */
export function checkConnectOptions(
  options: ConnectOptions & { blockSize?: number },
): { remote: string; blockSize: number } {
  const remote = describeRemote(options);
  if (options.path === undefined) {
    const port = options.port;
    if (port === undefined || !Number.isInteger(port) || port < 1 || port > 65535) {
      throw new ConnectError(`connect to ${remote}: a port (1-65535) or a unix socket path is required`);
    }
  }
  const blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
  if (!Number.isInteger(blockSize) || blockSize < 1) {
    throw new ConnectError(`connect to ${remote}: blockSize must be a positive integer, got ${blockSize}`);
  }
  return { remote, blockSize };
}

/**
 * The error a transport rejects `listen()` with when the OS refuses to bind (`EADDRINUSE`,
 * `EACCES`...), or `accept()` with when accepting fails: names the address and the code.
 *
 * @example
 * ```ts
 * import { listenFailed } from "./types.ts";
 * const err = listenFailed("127.0.0.1:603", Object.assign(new Error("in use"), { code: "EADDRINUSE" }));
 * err.message; // "listen on 127.0.0.1:603 failed: EADDRINUSE (in use)"
 * ```
 */
export function listenFailed(address: string, err: unknown): ConnectError {
  const code = errorCode(err);
  const text = err instanceof Error ? err.message : String(err);
  return new ConnectError(`listen on ${address} failed: ${code ?? "error"} (${text})`, { cause: err });
}

/**
 * Checks listen options before a transport uses them and fills in the defaults. `address` names
 * the requested address (port 0 included) for error messages.
 * Throws ConnectError when the port is not 0-65535 or the block size is not a positive integer.
 *
 * @example
 * ```ts
 * import { checkListenOptions } from "./types.ts";
 * checkListenOptions({ port: 0 });
 * // { address: "127.0.0.1:0", host: "127.0.0.1", port: 0, path: undefined, blockSize: 65535 }
 * ```
 */
export function checkListenOptions(options: ListenOptions): {
  address: string;
  host: string;
  port: number;
  path: string | undefined;
  blockSize: number;
} {
  const host = options.host ?? "127.0.0.1";
  const port = options.port ?? 0;
  const path = options.path;
  const address = path ?? `${host}:${port}`;
  if (path === undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) {
    throw new ConnectError(`listen on ${address}: the port must be 0-65535 (0 picks a free one)`);
  }
  if (path === "") throw new ConnectError("listen: the unix socket path is empty");
  const blockSize = options.blockSize ?? DEFAULT_BLOCK_SIZE;
  if (!Number.isInteger(blockSize) || blockSize < 1) {
    throw new ConnectError(`listen on ${address}: blockSize must be a positive integer, got ${blockSize}`);
  }
  return { address, host, port, path, blockSize };
}

/**
 * Accepted connections waiting for {@link Listener.accept}, for the transports whose runtime
 * accepts on its own (node, Bun, memory). Internal to the transports, exported for them and tests.
 *
 * @example
 * ```ts
 * import { AcceptQueue } from "./types.ts";
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

/**
 * Removes `path` if it is a Unix socket (a stale one, left by a listener that died), through
 * `node:fs`; anything else at `path` is left for the bind to fail on. Used by node and Bun.
 *
 * @example
 * ```ts
 * import { removeSocketFile } from "./types.ts";
 * await removeSocketFile("/tmp/ikc.sock");
 * ```
 */
export async function removeSocketFile(path: string): Promise<void> {
  const fs = await import("node:fs");
  try {
    if (!fs.lstatSync(path).isSocket()) return;
    fs.unlinkSync(path);
  } catch {
    // ENOENT: nothing there, or gone already; any other failure surfaces at bind time
  }
}

/**
 * A {@link Listener} over an {@link AcceptQueue} the runtime's listening socket feeds (node and
 * Bun): `close()` stops the socket (already accepted connections outlive it), closes what is still
 * queued, and removes the Unix socket file.
 *
 * @example
 * ```ts
 * import { AcceptQueue, QueuedListener } from "./types.ts";
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
