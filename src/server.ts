/**
 * The IKC server: a kernel that listens. Perl's ClientLite and IKC::Client (and our own client)
 * connect, negotiate IKC0 or classic IKC, and post to or call the states it publishes; it may
 * post to and call the states they publish in turn, over the same connections.
 *
 * @module
 */
import { ConnectError, DisconnectedError, IkcError, LimitError } from "./core/errors.ts";
import type { PerlInput, PerlValue } from "./core/perl.ts";
import { ServerNegotiation } from "./core/server-negotiation.ts";
import { attachChannel, type Negotiated } from "./kernel/attach-channel.ts";
import type { Channel } from "./kernel/channel.ts";
import { Kernel } from "./kernel/kernel.ts";
import { negotiate } from "./kernel/negotiate.ts";
import type { ErrorHandler } from "./kernel/report.ts";
import { KernelHost } from "./kernel/kernel-host.ts";
import { kernelId } from "./kernel/kernel-id.ts";
import type { Line } from "./kernel/send.ts";
import { serverLine } from "./server/route.ts";
import { checkKnownKeys } from "./kernel/checks.ts";
import type { KernelMonitor, MonitorEvent, MonitorHandler, PeerInfo, SendOptions, Target } from "./kernel/types.ts";
import { peerInfo } from "./kernel/peers.ts";
import { type ServerStats, serverStats } from "./kernel/kernel-stats.ts";
import { publishDrop } from "./kernel/trace.ts";
import { type IkcServerOptions, resolveServerOptions, type ServerSettings } from "./server/options.ts";
import { within } from "./time/within.ts";
import { Admission, type Ticket } from "./server/admission.ts";
import type { Connection, Listener } from "./transport/types.ts";
import { processId } from "./runtime.ts";

export type { IkcServerOptions } from "./server/options.ts";

const LISTENER_KEYS: ReadonlySet<string> = new Set(["host", "port", "path"]);

/**
 * A client of the server, as {@link IkcServer.clients} lists it.
 *
 * @example
 * ```ts
 * import type { ClientInfo } from "@poe-ikc/ikc";
 * const kick = (c: ClientInfo) => c.close("maintenance");
 * ```
 */
export interface ClientInfo extends PeerInfo {
  /** Drops this client now (nothing queued for it is sent); resolves once its socket is let go. */
  close(reason?: string): Promise<void>;
}
export type { KernelHost } from "./kernel/kernel-host.ts";
export type { CommonOptions } from "./kernel/types.ts";
export type { ServerStats } from "./kernel/kernel-stats.ts";
export type { IkcStats } from "./kernel/stats.ts";
export type { Authorize, AuthorizeRequest } from "./kernel/authorize.ts";
export type { DebugOption } from "./kernel/debug-log.ts";

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
export class IkcServer extends KernelHost {
  /** Our kernel name. */
  readonly name: string;
  /** Our kernel id: the first name announced to clients, unique per server. */
  readonly id: string;
  readonly #kernel: Kernel;
  /** The first listener (its port and path are the server's); {@link IkcServer.addListener} adds more. */
  readonly #listener: Listener;
  readonly #listeners: Listener[] = [];
  readonly #opts: ServerSettings;
  /** Sockets accepted and not yet served: waiting for a slot, or negotiating. */
  #unserved = new Set<Connection>();
  readonly #admission: Admission;
  readonly #closing: AbortController;
  #closed: Promise<void> | undefined;
  readonly #accepting: Promise<void>[] = [];

  private constructor(listener: Listener, id: string, opts: ServerSettings) {
    const closing = new AbortController();
    const kernel = new Kernel({
      id,
      names: [id, opts.name, ...opts.aliases],
      timeout: opts.timeout,
      maxInFlight: opts.maxInFlight,
      authorize: opts.authorize,
      debug: opts.debug,
      malformed: (e, ch) => ch.abort(e),
      // The listener keeps the process alive until close(): only then may an idle timer stay armed.
      holdTimer: () => !closing.signal.aborted,
    });
    super(kernel);
    this.#kernel = kernel;
    this.#closing = closing;
    this.#listener = listener;
    this.name = opts.name;
    this.id = id;
    this.#opts = opts;
    this.#admission = new Admission(opts);
    this.#serveListener(listener);
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
    const opts = resolveServerOptions(options);
    const listener = await opts.transport.listen({
      host: opts.host,
      port: opts.port,
      path: opts.path,
      blockSize: opts.blockSize,
      tls: opts.tls,
    });
    const id = kernelId(opts.name);
    return new IkcServer(listener, id, opts);
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

  /**
   * The kernels connected now (negotiation done), each with `close(reason)` to drop it.
   *
   * @example
   * ```ts
   * import { IkcServer } from "@poe-ikc/ikc";
   * const server = await IkcServer.listen({ port: 0 });
   * for (const c of server.clients) if (c.kernel.startsWith("Old")) await c.close("retired");
   * await server.close();
   * ```
   */
  get clients(): ClientInfo[] {
    return this.#kernel.peers.channels().map((ch) => ({
      ...peerInfo(ch),
      close: (reason?: string) => {
        ch.abort(new DisconnectedError(`dropped by the server${reason === undefined ? "" : `: ${reason}`}`));
        return ch.readDone;
      },
    }));
  }

  /**
   * Posts to a state of a connected kernel: `poe://<kernel or alias>/session/state` (a target
   * without a kernel goes to the only client, when there is exactly one; our own id, name or
   * alias runs our own state). Resolves once written; rejects with a RoutingError when no such
   * kernel is connected. `{ from: "hub" }` names the sending session (default `IKC`), so a Perl
   * reply to `$_[SENDER]` reaches our published `hub/<state>`.
   *
   * @example
   * ```ts
   * import { IkcServer } from "@poe-ikc/ikc";
   * const server = await IkcServer.listen({ port: 0 });
   * server.on("connect", (peer) => void server.post(`poe://${peer.kernel}/IKCLite/welcome`, "hello"));
   * ```
   */
  post(target: Target, params?: PerlInput, options?: Omit<SendOptions, "context">): Promise<void> {
    return this.#send("post", target, params, options) as Promise<never>;
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
    return this.#send("call", target, params, options) as Promise<T>;
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
    return this.#kernel.peers.monitor(event, handler as MonitorHandler);
  }

  /**
   * Monitors the kernel `name` (an id or alias), or every kernel (`*`), as Perl's `IKC/monitor`:
   * `register` once it has negotiated, `unregister` once it is gone, each given a
   * {@link KernelEvent}. `connect`/`disconnect` with a function are {@link IkcServer.on}'s.
   * Returns a function that removes it.
   *
   * @example
   * ```ts
   * import { IkcServer } from "@poe-ikc/ikc";
   * const server = await IkcServer.listen({ port: 0 });
   * server.monitor("*", { register: (e) => console.log(e.kernel, e.real ? "(id)" : "(alias)") });
   * await server.close();
   * ```
   */
  monitor(name: string, handlers: KernelMonitor): () => void;
  /** `connect`/`disconnect` monitors, as {@link IkcServer.on}. */
  monitor(event: MonitorEvent, handler: MonitorHandler): () => void;
  monitor(name: string, handler: KernelMonitor | MonitorHandler): () => void {
    if (typeof handler === "function") return this.#kernel.peers.monitor(name as MonitorEvent, handler);
    return this.#kernel.peers.monitorName(name, handler);
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

  /**
   * What this server counted since it started (see {@link IkcStats}); `clients` are the
   * negotiated clients, connected now and in all.
   *
   * @example
   * ```ts
   * import { IkcServer } from "@poe-ikc/ikc";
   * const server = await IkcServer.listen({ port: 0 });
   * console.log(server.stats().clients); // { now: 0, total: 0 }
   * await server.close();
   * ```
   */
  stats(): ServerStats {
    return serverStats(this.#kernel);
  }

  /** `await using` support. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close();
  }

  /**
   * Listens on one more address, for the same kernel: one id, one set of published states, one
   * set of clients (as Perl spawns several IKC::Server on one Responder). Resolves with the
   * address once it listens; `close()` closes it too. Rejects with a ConnectError when the address
   * cannot be bound, a TypeError on an unknown option.
   *
   * @example
   * ```ts
   * import { IkcServer } from "@poe-ikc/ikc";
   * const server = await IkcServer.listen({ port: 0, name: "Hub" });
   * await server.addListener({ path: "/tmp/hub.sock" });
   * await server.close();
   * ```
   */
  async addListener(options: { host?: string; port?: number; path?: string }): Promise<string> {
    checkKnownKeys(options, LISTENER_KEYS, "addListener");
    if (this.#closing.signal.aborted) throw new DisconnectedError("the server is closing");
    const o = this.#opts;
    const listener = await o.transport.listen({
      host: options.host ?? o.host,
      port: options.path === undefined ? options.port ?? 0 : undefined,
      path: options.path,
      blockSize: o.blockSize,
    });
    if (this.#closing.signal.aborted) {
      await listener.close();
      throw new DisconnectedError("the server is closing");
    }
    this.#serveListener(listener);
    return listener.address;
  }

  async #close(seconds: number): Promise<void> {
    this.#closing.abort(new DisconnectedError("the server is closing"));
    await Promise.all(this.#listeners.map((l) => l.close()));
    await Promise.all(this.#accepting);
    for (const conn of this.#unserved) drop(conn);
    await within(this.#kernel.responder.idle(), seconds * 1000);
    this.#kernel.loopback.close(); // after our own calls in flight had their chance, as the others'
    const reason = new DisconnectedError(`the server ${this.name} closed`);
    await Promise.all(this.#kernel.peers.channels().map((ch) => ch.close(reason, 1000)));
    this.#kernel.deadlines.clear();
    this.#kernel.reporter.flush();
  }

  /** Sends a request of ours to the kernel `target` names, over its connection (or our loopback). */
  #send(kind: "post" | "call", target: Target, params: PerlInput, options: SendOptions | undefined): Promise<unknown> {
    let line: Line;
    try {
      line = serverLine(this.#kernel, target);
    } catch (e) {
      return Promise.reject(e);
    }
    const from = { kernel: this.id, session: "IKC" };
    return this.#kernel.request(kind, line, target, (params ?? null) as PerlValue, options, from);
  }

  #serveListener(listener: Listener): void {
    this.#listeners.push(listener);
    this.#accepting.push(this.#acceptLoop(listener));
  }

  async #acceptLoop(listener: Listener): Promise<void> {
    for (;;) {
      let conn: Connection | null;
      try {
        conn = await listener.accept();
      } catch (e) {
        if (this.#closing.signal.aborted) return;
        this.#kernel.reporter.report(
          new ConnectError(`accept on ${listener.address} failed: ${errText(e)}`, { cause: e }),
          "accept",
        );
        continue;
      }
      if (conn === null) return;
      if (this.#closing.signal.aborted) {
        drop(conn);
        continue;
      }
      let ticket: Ticket;
      try {
        ticket = this.#admission.arrive(conn.remote);
      } catch (e) {
        this.#kernel.reporter.report(
          e instanceof LimitError
            ? new LimitError(`refused a connection from ${conn.remote}: ${e.message}`)
            : asError(e),
          "admission",
        );
        publishDrop(this.id, conn.remote, e);
        drop(conn);
        continue;
      }
      void this.#serve(conn, ticket, listener);
    }
  }

  /** Waits for a slot, negotiates, then hands the connection to the kernel as a channel. */
  async #serve(conn: Connection, ticket: Ticket, listener: Listener): Promise<void> {
    this.#unserved.add(conn);
    let negotiated: Negotiated;
    try {
      await this.#admitted(ticket);
      negotiated = await this.#negotiate(conn, listener);
      if (this.#closing.signal.aborted) throw this.#closing.signal.reason;
      ticket.served();
    } catch (e) {
      this.#unserved.delete(conn);
      ticket.leave();
      if (!this.#closing.signal.aborted) {
        this.#kernel.reporter.report(
          e instanceof LimitError
            ? new LimitError(`dropped client ${conn.remote}: ${e.message}`)
            : new ConnectError(`dropped client ${conn.remote}: ${errText(e)}`, { cause: e }),
        );
        publishDrop(this.id, conn.remote, e);
      }
      drop(conn, e);
      return;
    }
    this.#unserved.delete(conn);
    this.#attach(negotiated, ticket);
  }

  /** The server's side of either negotiation, on a socket that arrived on `listener`. */
  async #negotiate(conn: Connection, listener: Listener): Promise<Negotiated> {
    const machine = new ServerNegotiation({
      id: this.id,
      names: [this.name, ...this.#opts.aliases],
      address: announcedAddress(listener),
      freezers: this.#opts.freezers.map((f) => f.name),
      pid: processId(),
      ikc0: this.#opts.protocol === "IKC0",
    });
    const done = await negotiate(conn, machine, {
      seconds: this.#opts.connectTimeout,
      maxLineLength: this.#opts.maxLineLength,
      peer: `client ${conn.remote}`,
      signal: this.#closing.signal,
      observer: this.#kernel.observer,
    });
    return { conn, ...done };
  }

  /** A negotiated client joins the kernel, under the connection limits; its end frees its ticket. */
  #attach(negotiated: Negotiated, ticket: Ticket): void {
    const o = this.#opts;
    const channel = attachChannel(
      this.#kernel,
      negotiated,
      o.freezers,
      {
        maxFrameSize: o.maxFrameSize,
        maxWriteBuffer: o.maxWriteBuffer,
        frameTimeout: o.frameTimeout * 1000,
        deadlines: this.#kernel.deadlines,
      },
      "server",
      {
        ended: (c, reason) => {
          ticket.leave();
          this.#gone(c, reason);
        },
        overflow: (c) =>
          c.abort(
            new LimitError(
              `client ${c.remoteKernel} (${c.conn.remote}) reads too slowly: ${c.bufferedBytes} bytes wait for it, more than maxWriteBuffer ${o.maxWriteBuffer}`,
            ),
          ),
      },
    );
    if (!channel.alive) ticket.leave(); // ended before attach returned (its first frames were bad)
  }

  /** Resolves once `ticket` may negotiate; rejects when it waited `connectTimeout`, or the server closes. */
  #admitted(ticket: Ticket): Promise<void> {
    const seconds = this.#opts.connectTimeout;
    return new Promise<void>((resolve, reject) => {
      const closing = this.#closing.signal;
      const stop = () => reject(closing.reason);
      const deadline = this.#kernel.deadlines.add(
        seconds * 1000,
        () => reject(new LimitError(`no concurrency slot (${this.#opts.concurrency}) freed within ${seconds} s`)),
      );
      closing.addEventListener("abort", stop, { once: true });
      ticket.admitted.then(() => {
        deadline.cancel();
        closing.removeEventListener("abort", stop);
        resolve();
      });
    });
  }

  #gone(ch: Channel, reason: Error): void {
    // An ordinary goodbye is only a monitor event; anything else is why we dropped the client.
    if (ch.cleanEnd) {
      void ch.conn.close().catch(() => {});
      return;
    }
    if (!this.#closing.signal.aborted) {
      this.#kernel.reporter.report(
        reason instanceof IkcError && reason.message.startsWith("dropped")
          ? reason
          : new IkcError(`dropped client ${ch.remoteKernel} (${ch.conn.remote}): ${reason.message}`, { cause: reason }),
      );
    }
    // A client that is dropped is gone at once: nothing more is flushed to it.
    if (!this.#closing.signal.aborted) drop(ch.conn, reason);
  }
}

/** Destroys a connection now (its fd is released; nothing queued is flushed). */
function drop(conn: Connection, reason?: unknown): void {
  if (conn.destroy) conn.destroy(reason);
  else void conn.close().catch(() => {});
}

function asError(e: unknown): Error {
  return e instanceof Error ? e : new IkcError(String(e));
}

/** How Perl announces a listener: `ip:port`, or `unix:<path with odd characters as _>`. */
function announcedAddress(l: Listener): string | undefined {
  if (l.path !== undefined) return `unix:${l.path.replace(/[^-:.\w]+/g, "_")}`;
  return l.address;
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
