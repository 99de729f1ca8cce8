/**
 * The IKC server: a kernel that listens. Perl's ClientLite and IKC::Client (and our own client)
 * connect, negotiate IKC0 or classic IKC, and post to or call the states it publishes; it may
 * post to and call the states they publish in turn, over the same connections.
 *
 * @module
 */
import { DisconnectedError } from "./core/errors.ts";
import type { PerlInput, PerlValue } from "./core/perl.ts";
import { Kernel } from "./kernel/kernel.ts";
import { KernelHost } from "./kernel/kernel-host.ts";
import { kernelId } from "./kernel/kernel-id.ts";
import { kernelOptions } from "./kernel/settings.ts";
import type { Line } from "./kernel/send.ts";
import { checkKnownKeys } from "./kernel/checks.ts";
import type { MonitorEvent, MonitorHandler, PeerInfo, SendOptions, Target } from "./kernel/types.ts";
import type { ErrorHandler } from "./kernel/report.ts";
import { peerInfo } from "./kernel/peers.ts";
import { type ServerStats, serverStats } from "./kernel/kernel-stats.ts";
import { Acceptor } from "./server/acceptor.ts";
import { type IkcServerOptions, resolveServerOptions, type ServerSettings } from "./server/options.ts";
import { serverLine } from "./server/route.ts";
import { within } from "./time/within.ts";
import type { Listener } from "./transport/types.ts";

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
export type { ServerStats } from "./kernel/kernel-stats.ts";
export type * from "./kernel/host-types.ts";

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
  readonly #opts: ServerSettings;
  readonly #acceptor: Acceptor;
  #closed: Promise<void> | undefined;

  private constructor(listener: Listener, id: string, opts: ServerSettings) {
    const kernel = new Kernel({
      ...kernelOptions(opts, id),
      malformed: (e, ch) => ch.abort(e),
      // The listener keeps the process alive until close(): only then may an idle timer stay armed.
      holdTimer: () => !this.#acceptor.closing,
    });
    super(kernel);
    this.#kernel = kernel;
    this.#listener = listener;
    this.name = opts.name;
    this.id = id;
    this.#opts = opts;
    this.#acceptor = new Acceptor(kernel, opts);
    this.#acceptor.serve(listener);
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
    if (this.#acceptor.closing) throw new DisconnectedError("the server is closing");
    const o = this.#opts;
    const listener = await o.transport.listen({
      host: options.host ?? o.host,
      port: options.path === undefined ? options.port ?? 0 : undefined,
      path: options.path,
      blockSize: o.blockSize,
    });
    if (this.#acceptor.closing) {
      await listener.close();
      throw new DisconnectedError("the server is closing");
    }
    this.#acceptor.serve(listener);
    return listener.address;
  }

  async #close(seconds: number): Promise<void> {
    await this.#acceptor.close(new DisconnectedError("the server is closing"));
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
}
