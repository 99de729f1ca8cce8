/**
 * Transport over `Deno.connect` and `Deno.listen`. Deno is reached through `globalThis`, so this
 * file type-checks and loads on any runtime; it only works on Deno.
 *
 * @module
 */
import { DisconnectedError } from "../core/errors.ts";
import {
  checkConnectOptions,
  checkListenOptions,
  closedError,
  connectAborted,
  connectFailed,
  type Connection,
  type ConnectOptions,
  type Listener,
  listenFailed,
  type ListenOptions,
  type Transport,
} from "./types.ts";

/** The part of `Deno.Conn` used here. */
interface DenoConn {
  read(p: Uint8Array): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
  close(): void;
  closeWrite?(): Promise<void>;
  setNoDelay?(noDelay?: boolean): void;
  readonly remoteAddr?: { hostname?: string; port?: number; path?: string };
}

/** The part of `Deno.Listener` used here. */
interface DenoListener {
  readonly addr: { hostname?: string; port?: number; path?: string };
  accept(): Promise<DenoConn>;
  close(): void;
}

interface DenoApi {
  connect(options: { hostname?: string; port: number } | { transport: "unix"; path: string }): Promise<DenoConn>;
  listen(options: { hostname: string; port: number } | { transport: "unix"; path: string }): DenoListener;
  lstatSync(path: string): { isSocket: boolean | null };
  removeSync(path: string): void;
}

function deno(): DenoApi {
  const api = (globalThis as { Deno?: DenoApi }).Deno;
  if (!api) throw new TypeError("denoTransport needs the Deno runtime");
  return api;
}

class DenoConnection implements Connection {
  readonly remote: string;
  readonly closed: Promise<void>;
  readonly #conn: DenoConn;
  readonly #buf: Uint8Array;
  #resolveClosed!: () => void;
  #reading: Promise<unknown> = Promise.resolve();
  #writing: Promise<unknown> = Promise.resolve();
  #eof = false;
  #closing = false;
  #shuttingDown = false;
  #isClosed = false;
  #readError: DisconnectedError | undefined;

  constructor(conn: DenoConn, remote: string, blockSize: number) {
    this.remote = remote;
    this.#conn = conn;
    // One read buffer, reused: each read copies out exactly the bytes it got.
    this.#buf = new Uint8Array(blockSize);
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
  }

  write(data: Uint8Array): Promise<void> {
    if (this.#closing || this.#isClosed) return Promise.reject(closedError(this.remote));
    // Writes are chained: Deno.Conn.write may write partially and must not interleave.
    const p = this.#writing.then(() => this.#writeAll(data));
    this.#writing = p.catch(() => {});
    return p;
  }

  async #writeAll(data: Uint8Array): Promise<void> {
    let off = 0;
    while (off < data.byteLength) {
      if (this.#isClosed) throw closedError(this.remote);
      try {
        off += await this.#conn.write(off === 0 ? data : data.subarray(off));
      } catch (err) {
        this.#shutdown();
        throw closedError(this.remote, err);
      }
    }
  }

  read(): Promise<Uint8Array | null> {
    const p = this.#reading.then(() => this.#readOnce());
    this.#reading = p.catch(() => {});
    return p;
  }

  async #readOnce(): Promise<Uint8Array | null> {
    if (this.#readError) throw this.#readError;
    if (this.#eof || this.#shuttingDown || this.#isClosed) return null;
    let n: number | null;
    try {
      n = await this.#conn.read(this.#buf);
    } catch (err) {
      if (this.#shuttingDown || this.#isClosed) return null; // interrupted by our own close()
      const code = (err as { code?: string }).code ?? (err as Error).name;
      this.#readError = new DisconnectedError(`connection to ${this.remote} failed: ${code}`, { cause: err });
      this.#shutdown();
      throw this.#readError;
    }
    if (n === null) {
      // EOF: like node's allowHalfOpen=false, finish our writes and close.
      this.#eof = true;
      void this.close();
      return null;
    }
    return this.#buf.slice(0, n);
  }

  async closeWrite(): Promise<void> {
    if (this.#closing || this.#isClosed) return;
    this.#closing = true; // no more writes; reads go on until the peer's EOF
    await this.#writing;
    if (this.#isClosed) return;
    try {
      await this.#conn.closeWrite?.();
    } catch {
      // already shut down or reset: a read reports it
    }
  }

  destroy(): void {
    this.#shuttingDown = true;
    this.#closing = true;
    this.#shutdown(); // a write still pending rejects: its conn is closed under it
  }

  close(): Promise<void> {
    if (!this.#isClosed && !this.#shuttingDown) {
      this.#shuttingDown = true;
      this.#closing = true;
      void this.#writing.then(() => this.#shutdown());
    }
    return this.closed;
  }

  #shutdown(): void {
    if (this.#isClosed) return;
    this.#isClosed = true;
    try {
      this.#conn.close();
    } catch {
      // already closed by the runtime
    }
    this.#resolveClosed();
  }
}

/** Removes `path` if it is a Unix socket: a stale one before binding, ours after closing. */
function removeSocketFile(api: DenoApi, path: string): void {
  try {
    if (api.lstatSync(path).isSocket) api.removeSync(path);
  } catch {
    // NotFound: nothing there, or gone already; any other failure surfaces at bind time
  }
}

// Deno.listen leaves pending connections in the kernel's backlog until accepted, and their bytes
// in the kernel's buffers, so accept() takes them one at a time as asked. Those still in the
// backlog at close() are reset by the kernel: their clients see ECONNRESET rather than EOF.
class DenoListenerImpl implements Listener {
  readonly address: string;
  readonly port: number | undefined;
  readonly path: string | undefined;
  readonly #api: DenoApi;
  readonly #listener: DenoListener;
  readonly #blockSize: number;
  #accepting: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(api: DenoApi, listener: DenoListener, address: string, path: string | undefined, blockSize: number) {
    this.#api = api;
    this.#listener = listener;
    this.#blockSize = blockSize;
    this.address = address;
    this.path = path;
    this.port = path === undefined ? listener.addr.port : undefined;
  }

  accept(): Promise<Connection | null> {
    // Chained: Deno refuses a second accept while one is pending ("Another accept task is ongoing").
    const p = this.#accepting.then(() => this.#acceptOnce());
    this.#accepting = p.catch(() => {});
    return p;
  }

  async #acceptOnce(): Promise<Connection | null> {
    if (this.#closed) return null;
    let conn: DenoConn;
    try {
      conn = await this.#listener.accept();
    } catch (err) {
      if (this.#closed) return null; // interrupted by our own close()
      throw listenFailed(this.address, err);
    }
    if (this.#closed) {
      conn.close();
      return null;
    }
    let remote: string;
    if (this.path !== undefined) {
      remote = this.path;
    } else {
      conn.setNoDelay?.(true);
      const addr = conn.remoteAddr;
      remote = addr?.hostname !== undefined ? `${addr.hostname}:${addr.port}` : this.address;
    }
    return new DenoConnection(conn, remote, this.#blockSize);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#listener.close();
    } catch {
      // already closed by the runtime
    }
    await this.#accepting;
    if (this.path !== undefined) removeSocketFile(this.#api, this.path);
  }
}

/**
 * Transport over `Deno.connect` and `Deno.listen`: TCP (`host`/`port`, Nagle disabled) and Unix
 * sockets (`path`). Needs `--allow-net` (and `--allow-read`/`--allow-write` for Unix sockets).
 *
 * @example
 * ```ts
 * import { denoTransport } from "./deno.ts";
 * const conn = await denoTransport.connect({ path: "/tmp/ikc.sock" });
 * await conn.write(new TextEncoder().encode("HELLO\r\n"));
 * console.log(await conn.read());
 * await conn.close();
 *
 * const listener = await denoTransport.listen({ port: 0 });
 * const accepted = await listener.accept(); // null once listener.close() was called
 * ```
 */
export const denoTransport: Transport = {
  name: "deno",
  async connect(options: ConnectOptions & { blockSize?: number }): Promise<Connection> {
    const { remote, blockSize } = checkConnectOptions(options);
    const signal = options.signal;
    if (signal?.aborted) throw connectAborted(remote, signal);
    const api = deno();
    // The signal is not handed to Deno.connect: there it would also close the established
    // connection later, and it only governs the attempt here.
    const attempt = options.path !== undefined
      ? api.connect({ transport: "unix", path: options.path })
      : api.connect({ hostname: options.host ?? "localhost", port: options.port! });
    let conn: DenoConn;
    if (signal) {
      let onAbort!: () => void;
      const aborted = new Promise<never>((_, reject) => {
        onAbort = () => reject(connectAborted(remote, signal));
        signal.addEventListener("abort", onAbort, { once: true });
      });
      try {
        conn = await Promise.race([attempt, aborted]);
      } catch (err) {
        // A connection completing after the abort is closed at once.
        attempt.then((c) => c.close(), () => {});
        if (signal.aborted) throw connectAborted(remote, signal);
        throw connectFailed(remote, err);
      } finally {
        signal.removeEventListener("abort", onAbort);
      }
    } else {
      try {
        conn = await attempt;
      } catch (err) {
        throw connectFailed(remote, err);
      }
    }
    if (options.path === undefined) conn.setNoDelay?.(true);
    return new DenoConnection(conn, remote, blockSize);
  },
  // async though Deno.listen is synchronous: a bind error must reject, not throw.
  // deno-lint-ignore require-await
  async listen(options: ListenOptions): Promise<Listener> {
    const { address, host, port, path, blockSize } = checkListenOptions(options);
    const api = deno();
    if (path !== undefined) removeSocketFile(api, path);
    let listener: DenoListener;
    try {
      listener = path !== undefined ? api.listen({ transport: "unix", path }) : api.listen({ hostname: host, port });
    } catch (err) {
      throw listenFailed(address, err);
    }
    const bound = path ?? `${host}:${listener.addr.port}`;
    return new DenoListenerImpl(api, listener, bound, path, blockSize);
  },
};
