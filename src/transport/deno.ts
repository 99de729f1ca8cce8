/**
 * Transport over `Deno.connect`, `Deno.connectTls` and `Deno.listen`. Deno is reached through
 * `globalThis`, so this file type-checks and loads on any runtime; it only works on Deno.
 *
 * @module
 */
import { UnsupportedRuntimeError } from "../core/errors.ts";
import { checkConnectOptions, checkListenOptions } from "./check-options.ts";
import { checkConnectTls } from "./check-tls-options.ts";
import { connectWithAbort } from "./connect-with-abort.ts";
import { closedError, connectAborted, listenFailed, socketFailed, tlsFailed } from "./errors.ts";
import { nodeTransport } from "./node.ts";
import { PendingWrites } from "./pending-writes.ts";
import { removeSocketFile } from "./remove-socket-file.ts";
import type { Connection, ConnectOptions, Listener, ListenOptions, TlsPeer, Transport } from "./types.ts";

/** The part of `Deno.Conn` (and `Deno.TlsConn`) used here. */
interface DenoConn {
  read(p: Uint8Array): Promise<number | null>;
  write(p: Uint8Array): Promise<number>;
  close(): void;
  closeWrite?(): Promise<void>;
  setNoDelay?(noDelay?: boolean): void;
  handshake?(): Promise<unknown>;
  readonly remoteAddr?: { hostname?: string; port?: number; path?: string };
}

/** The part of `Deno.Listener` used here. */
interface DenoListener {
  readonly addr: { hostname?: string; port?: number; path?: string };
  accept(): Promise<DenoConn>;
  close(): void;
}

interface DenoTlsOptions {
  hostname: string;
  port: number;
  caCerts?: string[];
  cert?: string;
  key?: string;
}

interface DenoApi {
  connect(options: { hostname?: string; port: number } | { transport: "unix"; path: string }): Promise<DenoConn>;
  connectTls(options: DenoTlsOptions): Promise<DenoConn>;
  startTls(conn: DenoConn, options: { hostname: string; caCerts?: string[] }): Promise<DenoConn>;
  listen(options: { hostname: string; port: number } | { transport: "unix"; path: string }): DenoListener;
}

function deno(): DenoApi {
  const api = (globalThis as { Deno?: DenoApi }).Deno;
  if (!api) throw new TypeError("denoTransport needs the Deno runtime");
  return api;
}

class DenoConnection implements Connection {
  readonly #conn: DenoConn;
  readonly #buf: Uint8Array;
  readonly remote: string;
  readonly tls: TlsPeer | undefined;
  readonly closed: Promise<void>;
  #resolveClosed!: () => void;
  readonly #pending = new PendingWrites();
  #reading: Promise<unknown> = Promise.resolve();
  #writing: Promise<unknown> = Promise.resolve();
  #eof = false;
  #lastFull = false;
  #closing = false;
  #isClosed = false;
  #readError: Error | undefined;

  constructor(conn: DenoConn, remote: string, blockSize: number, tls?: TlsPeer) {
    this.remote = remote;
    this.tls = tls;
    this.#conn = conn;
    // One read buffer, reused: each read copies out exactly the bytes it got.
    this.#buf = new Uint8Array(blockSize);
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
  }

  write(data: Uint8Array): Promise<void> {
    if (this.#pending.ended || this.#isClosed) return Promise.reject(closedError(this.remote));
    // Writes are chained: Deno.Conn.write may write partially and must not interleave.
    const p = this.#writing.then(() => this.#writeAll(data));
    this.#writing = p.catch(() => {});
    return this.#pending.track(p);
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

  /**
   * Nothing is queued here (reads go straight to the socket), so this tells what the last read
   * implies: when it filled the whole buffer the socket likely holds more, which the next read
   * returns without waiting (the buffer's size stands for "some"); when it did not, the socket was
   * drained and the next read waits on the OS.
   */
  get queuedBytes(): number {
    return this.#lastFull ? this.#buf.byteLength : 0;
  }

  read(): Promise<Uint8Array | null> {
    const p = this.#reading.then(() => this.#readOnce());
    this.#reading = p.catch(() => {});
    return p;
  }

  async #readOnce(): Promise<Uint8Array | null> {
    if (this.#readError) throw this.#readError;
    if (this.#eof || this.#closing || this.#isClosed) return null;
    let n: number | null;
    try {
      n = await this.#conn.read(this.#buf);
    } catch (err) {
      if (this.#closing || this.#isClosed) return null; // interrupted by our own close()
      this.#readError = socketFailed(this.remote, err);
      this.#shutdown();
      throw this.#readError;
    }
    if (n === null) {
      // EOF: like node's allowHalfOpen=false, finish our writes and close.
      this.#eof = true;
      void this.close();
      return null;
    }
    this.#lastFull = n === this.#buf.byteLength;
    return this.#buf.slice(0, n);
  }

  closeWrite(): Promise<void> {
    // No more writes after this; reads go on until the peer's EOF.
    return this.#pending.end(async () => {
      if (this.#isClosed) return;
      try {
        await this.#conn.closeWrite?.();
      } catch {
        // already shut down or reset: a read reports it
      }
    });
  }

  destroy(): void {
    this.#closing = true;
    this.#shutdown(); // a write still pending rejects: its conn is closed under it
  }

  close(): Promise<void> {
    if (!this.#closing) {
      this.#closing = true;
      void this.closeWrite().then(() => this.#shutdown());
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

// Deno.listen leaves pending connections in the kernel's backlog until accepted, and their bytes
// in the kernel's buffers, so accept() takes them one at a time as asked. Those still in the
// backlog at close() are reset by the kernel: their clients see ECONNRESET rather than EOF.
class DenoListenerImpl implements Listener {
  readonly address: string;
  readonly port: number | undefined;
  readonly path: string | undefined;
  readonly #listener: DenoListener;
  readonly #blockSize: number;
  #accepting: Promise<unknown> = Promise.resolve();
  #closed = false;

  constructor(listener: DenoListener, address: string, path: string | undefined, blockSize: number) {
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
    if (this.path !== undefined) await removeSocketFile(this.path);
  }
}

/**
 * A TLS connection through `Deno.connectTls` (or `Deno.startTls` when the name to verify is not
 * the host), its handshake done. What Deno cannot do is refused, never done in plain text.
 */
async function openTls(
  api: DenoApi,
  options: ConnectOptions,
  remote: string,
  tls: NonNullable<ReturnType<typeof checkConnectTls>>,
): Promise<DenoConn> {
  const unsupported = (what: string) =>
    new UnsupportedRuntimeError(`connect to ${remote}: ${what} (nodeTransport's node:tls may do it)`);
  if (options.path !== undefined) throw unsupported("Deno.connectTls cannot speak TLS over a Unix socket");
  if (!tls.rejectUnauthorized) throw unsupported("Deno.connectTls always verifies; tls.rejectUnauthorized false");
  const host = options.host ?? "localhost";
  const name = tls.serverName ?? host;
  if (name !== host && tls.cert !== undefined) {
    throw unsupported("Deno cannot verify a serverName other than the host while sending a client certificate");
  }
  const conn = name === host
    ? await api.connectTls({ hostname: host, port: options.port!, caCerts: tls.ca, cert: tls.cert, key: tls.key })
    : await api.startTls(await api.connect({ hostname: host, port: options.port! }), {
      hostname: name,
      caCerts: tls.ca,
    });
  // Deno shakes hands lazily: done here, so a refusal is a connect error and an abort stops it.
  if (options.signal?.aborted) {
    conn.close();
    throw connectAborted(remote, options.signal);
  }
  const onAbort = () => conn.close();
  options.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    await conn.handshake?.();
  } catch (err) {
    try {
      conn.close();
    } catch {
      // closed by the abort
    }
    throw tlsFailed(remote, err);
  } finally {
    options.signal?.removeEventListener("abort", onAbort);
  }
  return conn;
}

/**
 * Transport over `Deno.connect`, `Deno.connectTls` and `Deno.listen`: TCP (`host`/`port`, Nagle
 * disabled) and Unix sockets (`path`). A TLS listener is Deno's `node:tls` server (`Deno.listenTls`
 * cannot ask for client certificates). Needs `--allow-net` (and `--allow-read`/`--allow-write` for
 * Unix sockets).
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
    const tls = checkConnectTls(options.tls);
    const api = deno();
    // The signal is not handed to Deno.connect: there it would also close the established
    // connection later, and it only governs the attempt here.
    const open = () =>
      tls
        ? openTls(api, options, remote, tls)
        : options.path !== undefined
        ? api.connect({ transport: "unix", path: options.path })
        : api.connect({ hostname: options.host ?? "localhost", port: options.port! });
    const conn = await connectWithAbort(open, remote, options.signal, (c) => c.close());
    if (options.path === undefined) conn.setNoDelay?.(true);
    // Deno verifies every server certificate, and tells nothing more of it.
    return new DenoConnection(conn, remote, blockSize, tls ? { authorized: true } : undefined);
  },
  async listen(options: ListenOptions): Promise<Listener> {
    if (options.tls !== undefined) return await nodeTransport.listen(options);
    const { address, host, port, path, blockSize } = checkListenOptions(options);
    const api = deno();
    if (path !== undefined) await removeSocketFile(path);
    let listener: DenoListener;
    try {
      listener = path !== undefined ? api.listen({ transport: "unix", path }) : api.listen({ hostname: host, port });
    } catch (err) {
      throw listenFailed(address, err);
    }
    const bound = path ?? `${host}:${listener.addr.port}`;
    return new DenoListenerImpl(listener, bound, path, blockSize);
  },
};
