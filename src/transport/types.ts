/**
 * The byte-stream abstraction the IKC layers run on: a {@link Transport} opens and accepts
 * {@link Connection}s. Nothing here knows about IKC.
 *
 * @module
 */

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
  /**
   * Speak TLS: `true` verifies the server against the system's roots, an object sets the CA, a
   * client certificate and the name to verify. Never falls back to plain text.
   */
  tls?: true | ConnectTlsOptions;
}

/**
 * TLS for a client connection. Keys and certificates are PEM strings.
 *
 * @example
 * ```ts
 * import type { ConnectTlsOptions } from "@poe-ikc/ikc";
 * const ca = "-----BEGIN CERTIFICATE-----\n...";
 * const mutual: ConnectTlsOptions = { ca, cert: "-----BEGIN CERTIFICATE-----\n...", key: "-----BEGIN PRIVATE KEY-----\n..." };
 * const byName: ConnectTlsOptions = { ca, serverName: "ikc.example.org" };
 * ```
 */
export interface ConnectTlsOptions {
  /** CA certificate(s) to verify the server with, in place of the system's roots. */
  ca?: string | string[];
  /** Our certificate (chain), for a server that asks for one. Needs `key`. */
  cert?: string;
  /** The private key of `cert`. */
  key?: string;
  /** The name the server's certificate must carry (default: `host`); also sent as SNI. */
  serverName?: string;
  /** `false` accepts a server whose certificate does not verify (default `true`). Not on Deno. */
  rejectUnauthorized?: boolean;
}

/**
 * TLS for a listener. Keys and certificates are PEM strings.
 *
 * @example
 * ```ts
 * import type { ListenTlsOptions } from "@poe-ikc/ikc";
 * const pem = "-----BEGIN CERTIFICATE-----\n...";
 * const tls: ListenTlsOptions = { cert: pem, key: "-----BEGIN PRIVATE KEY-----\n...", ca: pem, requestCert: true };
 * ```
 */
export interface ListenTlsOptions {
  /** The server's certificate (chain). */
  cert: string;
  /** The private key of `cert`. */
  key: string;
  /** CA certificate(s) client certificates must be signed by. */
  ca?: string | string[];
  /** Ask clients for a certificate (default `false`). */
  requestCert?: boolean;
  /**
   * With `requestCert`: refuse a client without a certificate signed by `ca` (default `true`).
   * `false` accepts it and reports `tls.authorized: false` on its connection.
   */
  rejectUnauthorized?: boolean;
  /** Milliseconds a client has to finish its handshake before it is dropped (default 10000). */
  handshakeTimeout?: number;
}

/**
 * What a TLS connection knows of its peer, once the handshake is done.
 *
 * @example
 * ```ts
 * import type { Connection, TlsPeer } from "@poe-ikc/ikc";
 * function who(conn: Connection): string {
 *   const tls: TlsPeer | undefined = conn.tls;
 *   return tls === undefined ? "plain" : tls.authorized ? `verified ${tls.subject ?? "peer"}` : "unverified";
 * }
 * ```
 */
export interface TlsPeer {
  /** The peer's certificate was verified against the CA (false when it sent none). */
  readonly authorized: boolean;
  /** Why it was not verified (an OpenSSL code such as `UNABLE_TO_VERIFY_LEAF_SIGNATURE`). */
  readonly authorizationError?: string;
  /** The certificate's subject, as `CN=name, O=org` (escaped, bounded), when the runtime tells. */
  readonly subject?: string;
  /** The protocol version (`TLSv1.3`), when the runtime tells. */
  readonly protocol?: string;
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
  /**
   * Bytes received and queued that the next `read()` returns without waiting on the OS; 0 means
   * it waits, so the event loop turns first. Undefined where the transport cannot tell (a reader
   * then assumes the next read may resolve at once).
   */
  readonly queuedBytes?: number;
  /** TLS connections: what is known of the peer. Undefined on a plain connection. */
  readonly tls?: TlsPeer;
  /**
   * Graceful close: flushes pending writes, then closes. Writes issued while the flush is under way
   * (a writer chaining its next write on the last) are still sent. Idempotent; resolves when closed.
   */
  close(): Promise<void>;
  /**
   * Half-close: flushes pending writes as `close()` does, then sends FIN but keeps reading, so the
   * caller can wait for the peer to close its side (`read()` returning null). Writes fail once the
   * FIN is sent. Optional.
   */
  closeWrite?(): Promise<void>;
  /**
   * Closes at once and releases the socket, dropping bytes not yet written: a peer that stopped
   * reading holds nothing up. Pending writes reject. Idempotent. Every transport here has it;
   * optional for wrappers, whose callers fall back to `close()`.
   */
  destroy?(reason?: unknown): void;
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
  /** Speak TLS: accepted connections are handed out once their handshake succeeded. */
  tls?: ListenTlsOptions;
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
