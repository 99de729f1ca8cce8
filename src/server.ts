/**
 * The IKC server: a kernel that listens. Perl's ClientLite and IKC::Client (and our own client)
 * connect, negotiate IKC0 or classic IKC, and post to or call the states it publishes; it may
 * post to and call the states they publish in turn, over the same connections.
 *
 * @module
 */
import { ConnectError, DisconnectedError, IkcError, LimitError, RoutingError } from "./core/errors.ts";
import type { Freezer } from "./core/freezer.ts";
import { resolveFreezers } from "./core/freezers.ts";
import { isValidKernelName } from "./core/negotiation.ts";
import type { PerlInput, PerlValue } from "./core/perl.ts";
import { ServerNegotiation } from "./core/server-negotiation.ts";
import { Channel } from "./kernel/channel.ts";
import {
  checkSeconds,
  Kernel,
  type MonitorEvent,
  type MonitorHandler,
  type PeerInfo,
  type SendOptions,
  type StateHandler,
  type Target,
} from "./kernel/kernel.ts";
import { within } from "./kernel/deadline.ts";
import { negotiate } from "./kernel/negotiate.ts";
import type { ErrorHandler } from "./kernel/report.ts";
import { detectTransport, transportFor } from "./transport/detect.ts";
import type { Connection, Listener, ListenTlsOptions, Transport } from "./transport/types.ts";
import { processId } from "./runtime.ts";

/**
 * Options of {@link IkcServer.listen}. Times are in seconds.
 *
 * @example
 * ```ts
 * import type { IkcServerOptions } from "@poe-ikc/ikc";
 * const o: IkcServerOptions = { port: 0, name: "Hub", aliases: ["hub"], maxClients: 100 };
 * ```
 */
export interface IkcServerOptions {
  /** Address to bind (default `127.0.0.1`; `0.0.0.0` for every interface). Ignored when `path` is set. */
  host?: string;
  /** TCP port (default 603); 0 picks a free one, then `server.port` says which. */
  port?: number;
  /** Unix-domain socket path; when set, used instead of host/port. */
  path?: string;
  /** Our kernel name (default `Server<pid>`). */
  name?: string;
  /** Further names for our kernel. */
  aliases?: string[];
  /**
   * The freezers accepted, preferred first: package names or Freezer objects (default all three:
   * `Storable`, `FreezeThaw`, `POE::Component::IKC::Freezer`).
   */
  serializer?: string | Freezer | ReadonlyArray<string | Freezer>;
  /** `IKC0` (default: answers both IKC0 and classic IKC) or `IKC` (answers `SETUP` with `NOT`, as a Perl server spawned with protocol IKC). */
  protocol?: "IKC0" | "IKC";
  /** Default answer timeout for {@link IkcServer.call} (default 30). */
  timeout?: number;
  /** Seconds a client has to finish negotiating before it is dropped (default 10). */
  connectTimeout?: number;
  /** Largest frame accepted from a client, in bytes (default 64 MiB); a bigger one drops the client. */
  maxFrameSize?: number;
  /** Longest negotiation line accepted, in bytes (default 4096). */
  maxLineLength?: number;
  /** Bytes queued for one client that does not read before it is dropped (default 16 MiB). */
  maxWriteBuffer?: number;
  /** Clients connected at once (default 1000); more are closed at once, with a report. */
  maxClients?: number;
  /** Largest read from a socket, in bytes (default 65535). */
  blockSize?: number;
  /** Speak TLS: PEM `cert` and `key`; with `requestCert`, clients need a certificate signed by `ca`. */
  tls?: ListenTlsOptions;
  /** Seconds {@link IkcServer.close} lets calls in flight finish (default 5). */
  closeTimeout?: number;
  /** Transport to use: a Transport object or a runtime name (default: detected). */
  transport?: Transport | "deno" | "bun" | "node";
}

let serverSeq = 0;

interface Settings {
  protocol: "IKC0" | "IKC";
  aliases: string[];
  connectTimeout: number;
  maxFrameSize: number;
  maxLineLength: number;
  maxWriteBuffer: number;
  maxClients: number;
  closeTimeout: number;
}

/**
 * An IKC server. Publish states, then let Perl (or TypeScript) kernels call them.
 *
 * @example
 * ```ts
 * import { IkcServer } from "@poe-ikc/ikc";
 * const server = await IkcServer.listen({ port: 0, name: "Hub" });
 * server.publish("calc", { add: (p) => (p as number[]).reduce((a, b) => a + b, 0) });
 * console.log(`listening on ${server.port}`);
 * await server.close();
 * ```
 */
export class IkcServer {
  /** Our kernel name. */
  readonly name: string;
  /** Our kernel id: the first name announced to clients, unique per server. */
  readonly id: string;
  readonly #kernel: Kernel;
  readonly #listener: Listener;
  readonly #freezers: Freezer[];
  readonly #opts: Settings;
  #negotiating = new Set<Connection>();
  #closing = new AbortController();
  #closed: Promise<void> | undefined;
  #accepting: Promise<void>;

  private constructor(
    listener: Listener,
    name: string,
    id: string,
    freezers: Freezer[],
    opts: Settings,
    timeout: number,
  ) {
    this.#listener = listener;
    this.name = name;
    this.id = id;
    this.#freezers = freezers;
    this.#opts = opts;
    this.#kernel = new Kernel({ id, names: [id, name, ...opts.aliases], timeout });
    this.#kernel.malformed = (e, ch) => ch.abort(e);
    // The listener keeps the process alive until close(): only then may an idle timer stay armed.
    this.#kernel.deadlines.holdWhile(() => !this.#closing.signal.aborted);
    this.#accepting = this.#acceptLoop();
  }

  /**
   * Starts a server: resolves once it listens. Rejects with a ConnectError when the address
   * cannot be bound, a TypeError on bad options.
   *
   * @example
   * ```ts
   * import { IkcServer } from "@poe-ikc/ikc";
   * const tcp = await IkcServer.listen({ port: 0 });
   * const unix = await IkcServer.listen({ path: "/tmp/hub.sock", name: "Hub" });
   * await tcp.close();
   * await unix.close();
   * ```
   */
  static async listen(options: IkcServerOptions = {}): Promise<IkcServer> {
    const name = options.name ?? `Server${processId()}`;
    const aliases = options.aliases ?? [];
    for (const n of [name, ...aliases]) {
      if (!isValidKernelName(n)) {
        throw new TypeError(`kernel name ${JSON.stringify(n)} may only hold letters, digits, '_', '-' and '.'`);
      }
    }
    const protocol = options.protocol ?? "IKC0";
    if (protocol !== "IKC0" && protocol !== "IKC") throw new TypeError(`protocol must be IKC0 or IKC, not ${protocol}`);
    const timeout = options.timeout ?? 30;
    checkSeconds(timeout);
    const opts: Settings = {
      protocol,
      aliases,
      connectTimeout: options.connectTimeout ?? 10,
      maxFrameSize: options.maxFrameSize ?? 64 * 1024 * 1024,
      maxLineLength: options.maxLineLength ?? 4096,
      maxWriteBuffer: options.maxWriteBuffer ?? 16 * 1024 * 1024,
      maxClients: options.maxClients ?? 1000,
      closeTimeout: options.closeTimeout ?? 5,
    };
    checkSeconds(opts.connectTimeout, "connectTimeout");
    checkSeconds(opts.closeTimeout, "closeTimeout");
    for (const k of ["maxFrameSize", "maxLineLength", "maxWriteBuffer", "maxClients"] as const) {
      if (!(opts[k] >= 1)) throw new TypeError(`${k} must be at least 1`);
    }
    const freezers = resolveFreezers(options.serializer ?? ["Storable", "FreezeThaw", "POE::Component::IKC::Freezer"]);
    const t = options.transport;
    const transport = t === undefined ? detectTransport() : typeof t === "string" ? transportFor(t) : t;
    const listener = await transport.listen({
      host: options.host ?? "127.0.0.1",
      port: options.port ?? 603,
      path: options.path,
      blockSize: options.blockSize,
      tls: options.tls,
    });
    // Perl's kernel id is host-pid-counter; ours is as unique per process and speaks the same alphabet.
    const id = `${name}-${processId().toString(16)}-${(++serverSeq).toString(16).padStart(4, "0")}`;
    return new IkcServer(listener, name, id, freezers, opts, timeout);
  }

  /** The bound TCP port (the one picked for port 0); undefined on a Unix socket. */
  get port(): number | undefined {
    return this.#listener.port;
  }

  /** The Unix socket path; undefined on TCP. */
  get path(): string | undefined {
    return this.#listener.path;
  }

  /** `host:port` or the socket path. */
  get address(): string {
    return this.#listener.address;
  }

  /** Every name we answer to: id, name, aliases. */
  get names(): readonly string[] {
    return this.#kernel.names;
  }

  /** The kernels connected now (negotiation done). */
  get clients(): PeerInfo[] {
    return this.#kernel.channels().map((c) => ({
      kernel: c.info.remoteKernel,
      aliases: [...c.info.remoteAliases],
      protocol: c.info.protocol,
      freezer: c.info.freezer,
      address: c.conn.remote,
    }));
  }

  /**
   * Publishes states of `session`. Each state gets the request's params (ARG0) and a
   * {@link StateContext}; what it returns (or resolves to) is the answer to a call. Returning
   * `undefined` sends no answer, as a Perl state returning undef does; throwing answers with a
   * remote_error carrying the message (the server carries on).
   *
   * @example
   * ```ts
   * import { IkcServer } from "@poe-ikc/ikc";
   * const server = await IkcServer.listen({ port: 0 });
   * server.publish("calc", {
   *   add: (p) => (p as number[]).reduce((a, b) => a + b, 0),
   *   later: async (p, ctx) => { await ctx.post(ctx.rsvp ?? "IKCLite/done", p); },
   * });
   * await server.close();
   * ```
   */
  publish(session: string, states: Record<string, StateHandler>): void {
    this.#kernel.publish(session, states);
  }

  /**
   * Retracts states of `session` (all of them when `states` is omitted); false when it published nothing.
   *
   * @example
   * ```ts
   * import { IkcServer } from "@poe-ikc/ikc";
   * const server = await IkcServer.listen({ port: 0 });
   * server.publish("calc", { add: () => 0, sub: () => 0 });
   * server.retract("calc", ["sub"]);
   * await server.close();
   * ```
   */
  retract(session: string, states?: string[]): boolean {
    return this.#kernel.retract(session, states);
  }

  /**
   * What is published: session → state names (IKC's own `IKC` session included, as Perl lists it).
   *
   * @example
   * ```ts
   * import { IkcServer } from "@poe-ikc/ikc";
   * const server = await IkcServer.listen({ port: 0 });
   * server.publish("calc", { add: () => 0 });
   * console.log(server.published()); // { IKC: ["ping", "do_you_have", "remote_error"], calc: ["add"] }
   * await server.close();
   * ```
   */
  published(): Record<string, string[]> {
    return this.#kernel.published();
  }

  /**
   * Posts to a state of a connected kernel: `poe://<kernel or alias>/session/state` (a target
   * without a kernel goes to the only client, when there is exactly one). Resolves once written;
   * rejects with a RoutingError when no such kernel is connected.
   *
   * @example
   * ```ts
   * import { IkcServer } from "@poe-ikc/ikc";
   * const server = await IkcServer.listen({ port: 0 });
   * server.on("connect", (peer) => void server.post(`poe://${peer.kernel}/IKCLite/welcome`, "hello"));
   * ```
   */
  post(target: Target, params?: PerlInput): Promise<void> {
    let ch: Channel;
    try {
      ch = this.#route(target);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#kernel.post(ch, target, (params ?? null) as PerlValue, { kernel: this.id, session: "IKC" });
  }

  /**
   * Calls a state a connected kernel published (see {@link IkcServer.post} for the target).
   *
   * @example
   * ```ts
   * import { IkcServer } from "@poe-ikc/ikc";
   * const server = await IkcServer.listen({ port: 0 });
   * server.on("connect", async (peer) => console.log(await server.call(`poe://${peer.kernel}/work/square`, 7)));
   * ```
   */
  call<T = PerlValue>(target: Target, params?: PerlInput, options?: SendOptions): Promise<T> {
    let ch: Channel;
    try {
      ch = this.#route(target);
    } catch (e) {
      return Promise.reject(e);
    }
    return this.#kernel.request<T>(ch, target, (params ?? null) as PerlValue, options, "call", {
      kernel: this.id,
      session: "IKC",
    });
  }

  /**
   * Monitors (`connect`: a kernel finished negotiating; `disconnect`: it is gone, with the reason)
   * and `error`: a client dropped for misbehaving, a state that threw, a request refused, anything
   * that belongs to no request. Returns a function that removes the handler.
   *
   * @example
   * ```ts
   * import { IkcServer } from "@poe-ikc/ikc";
   * const server = await IkcServer.listen({ port: 0 });
   * server.on("connect", (peer) => console.log("hello", peer.kernel));
   * server.on("disconnect", (peer, why) => console.log("bye", peer.kernel, why?.message));
   * server.on("error", (e) => console.error(e.message));
   * ```
   */
  on(event: MonitorEvent, handler: MonitorHandler): () => void;
  /** Adds an error handler: a client dropped, an answer that could not be sent; returns its remover. */
  on(event: "error", handler: ErrorHandler): () => void;
  on(event: MonitorEvent | "error", handler: MonitorHandler | ErrorHandler): () => void {
    if (event === "error") return this.#kernel.reporter.add(handler as ErrorHandler);
    return this.#kernel.monitor(event, handler as MonitorHandler);
  }

  /**
   * Errors that belong to no request (the same as `on("error", ...)`).
   *
   * @example
   * ```ts
   * import { IkcServer } from "@poe-ikc/ikc";
   * const server = await IkcServer.listen({ port: 0 });
   * server.onError((e) => console.error("ikc:", e.message));
   * ```
   */
  onError(handler: ErrorHandler): () => void {
    return this.#kernel.reporter.add(handler);
  }

  /**
   * Stops accepting, lets calls in flight finish (up to `timeout` seconds, default the
   * `closeTimeout` option), then closes every connection. Idempotent.
   *
   * @example
   * ```ts
   * import { IkcServer } from "@poe-ikc/ikc";
   * const server = await IkcServer.listen({ port: 0 });
   * await server.close({ timeout: 1 });
   * ```
   */
  close(options: { timeout?: number } = {}): Promise<void> {
    this.#closed ??= this.#close(options.timeout ?? this.#opts.closeTimeout);
    return this.#closed;
  }

  /** `await using` support. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  async #close(seconds: number): Promise<void> {
    this.#closing.abort(new DisconnectedError("the server is closing"));
    await this.#listener.close();
    await this.#accepting;
    for (const conn of this.#negotiating) void conn.close().catch(() => {});
    await within(this.#kernel.idle(), seconds * 1000);
    const reason = new DisconnectedError(`the server ${this.name} closed`);
    await Promise.all(this.#kernel.channels().map((ch) => ch.close(reason, 1000)));
    this.#kernel.deadlines.clear();
    this.#kernel.reporter.flush();
  }

  #route(target: Target): Channel {
    const ch = this.#kernel.channelForTarget(target);
    if (ch) return ch;
    const kernel = typeof target === "string" ? undefined : target.kernel;
    const named = typeof target === "string" ? /^poe:\/\/([^/]+)\//.exec(target)?.[1] : kernel;
    if (named !== undefined) throw new RoutingError(`no connected kernel named ${JSON.stringify(named)}`);
    const all = this.#kernel.channels();
    if (all.length === 1) return all[0];
    throw new RoutingError(
      `${
        JSON.stringify(typeof target === "string" ? target : `${target.session}/${target.state}`)
      } names no kernel, and ${all.length} are connected: use poe://<kernel>/session/state`,
    );
  }

  async #acceptLoop(): Promise<void> {
    for (;;) {
      let conn: Connection | null;
      try {
        conn = await this.#listener.accept();
      } catch (e) {
        if (this.#closing.signal.aborted) return;
        this.#kernel.reporter.report(
          new ConnectError(`accept on ${this.address} failed: ${errText(e)}`, { cause: e }),
          "accept",
        );
        continue;
      }
      if (conn === null) return;
      if (this.#closing.signal.aborted) {
        void conn.close().catch(() => {});
        continue;
      }
      if (this.#kernel.channels().length + this.#negotiating.size >= this.#opts.maxClients) {
        this.#kernel.reporter.report(
          new LimitError(`refused a connection from ${conn.remote}: maxClients (${this.#opts.maxClients}) reached`),
          "max-clients",
        );
        void conn.close().catch(() => {});
        continue;
      }
      void this.#serve(conn);
    }
  }

  async #serve(conn: Connection): Promise<void> {
    this.#negotiating.add(conn);
    let ch: Channel;
    let rest: Uint8Array;
    try {
      const machine = new ServerNegotiation({
        id: this.id,
        names: [this.name, ...this.#opts.aliases],
        address: announcedAddress(this.#listener),
        freezers: this.#freezers.map((f) => f.name),
        pid: processId(),
        ikc0: this.#opts.protocol === "IKC0",
      });
      const done = await negotiate(conn, machine, {
        seconds: this.#opts.connectTimeout,
        maxLineLength: this.#opts.maxLineLength,
        peer: `client ${conn.remote}`,
        signal: this.#closing.signal,
      });
      rest = done.rest;
      const freezer = this.#freezers.find((f) => f.name === done.result.freezer)!;
      ch = new Channel(conn, freezer, done.result, {
        maxFrameSize: this.#opts.maxFrameSize,
        maxWriteBuffer: this.#opts.maxWriteBuffer,
      }, "server");
    } catch (e) {
      this.#negotiating.delete(conn);
      if (!this.#closing.signal.aborted) {
        this.#kernel.reporter.report(new ConnectError(`dropped client ${conn.remote}: ${errText(e)}`, { cause: e }));
      }
      await conn.close().catch(() => {});
      return;
    }
    this.#negotiating.delete(conn);
    if (this.#closing.signal.aborted) {
      await ch.close(new DisconnectedError("the server is closing"), 100);
      return;
    }
    this.#kernel.attach(ch);
    ch.start(rest, {
      message: (v, c) => this.#kernel.receive(v, c),
      end: (reason, c) => this.#gone(c, reason),
      overflow: (c) =>
        c.abort(
          new LimitError(
            `client ${c.remoteKernel} (${c.conn.remote}) reads too slowly: ${c.bufferedBytes} bytes wait for it, more than maxWriteBuffer ${this.#opts.maxWriteBuffer}`,
          ),
        ),
    });
  }

  #gone(ch: Channel, reason: Error): void {
    // An ordinary goodbye is only a monitor event; anything else is why we dropped the client.
    if (!ch.cleanEnd && !this.#closing.signal.aborted) {
      this.#kernel.reporter.report(
        reason instanceof IkcError && reason.message.startsWith("dropped")
          ? reason
          : new IkcError(`dropped client ${ch.remoteKernel} (${ch.conn.remote}): ${reason.message}`, { cause: reason }),
      );
    }
    this.#kernel.detach(ch, reason);
    void ch.conn.close().catch(() => {});
  }
}

/** How Perl announces a listener: `ip:port`, or `unix:<path with odd characters as _>`. */
function announcedAddress(l: Listener): string | undefined {
  if (l.path !== undefined) return `unix:${l.path.replace(/[^-:.\w]+/g, "_")}`;
  return l.address;
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
