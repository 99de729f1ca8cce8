/**
 * The kernel's public types: targets, published states and their context, peers and monitors.
 * `mod.ts` re-exports them.
 *
 * @module
 */
import type { TlsPeer } from "../transport/types.ts";
import type { Freezer } from "../core/freezer.ts";
import type { Address } from "../core/message.ts";
import type { PerlInput, PerlValue } from "../core/perl.ts";
import type { Transport } from "../transport/types.ts";
import type { Authorize } from "./authorize.ts";
import type { DebugOption } from "./debug-log.ts";

/**
 * Where a message goes: a specifier string (`poe://kernel/session/state`, `session/state`) or an
 * address hash such as an rsvp.
 *
 * @example
 * ```ts
 * import type { Target } from "@poe-ikc/ikc";
 * const a: Target = "poe://Hub/jobs/run";
 * const b: Target = { kernel: "Client1", session: "IKCLite", state: "response7" };
 * ```
 */
export type Target = string | { kernel?: string; session: string; state: string };

/**
 * Options for a request sent by a kernel (call, postRespond, ...).
 *
 * @example
 * ```ts
 * import type { SendOptions } from "@poe-ikc/ikc";
 * const o: SendOptions = { timeout: 5, context: "list" };
 * ```
 */
export interface SendOptions {
  /** Seconds to wait for the answer (default: the kernel's timeout). */
  timeout?: number;
  /** Cancels the wait; the request rejects with an AbortError. */
  signal?: AbortSignal;
  /** `scalar` (default) or `list`. */
  context?: "scalar" | "list";
  /**
   * The sending session: the message says `{kernel: <our id>, session: from, state: "IKC:proxy"}`
   * as a Perl session's does, so a Perl `$kernel->post($_[SENDER], state, @args)` reaches our
   * `from/state` (publish it). Default: a client's `IKCLite` (replies land in its inbox, for
   * `responded`/`on`), a server's `IKC` (replies are refused).
   */
  from?: string;
}

/**
 * What a published state is told about the request it runs for.
 *
 * @example
 * ```ts
 * import type { StateContext } from "@poe-ikc/ikc";
 * const whoAsked = (ctx: StateContext) => `${ctx.from?.kernel} in ${ctx.context} context`;
 * ```
 */
export interface StateContext {
  /** The sender, as its message said (`{kernel, session[, state]}`), when it said. */
  readonly from: Address | undefined;
  /** The remote kernel's id (the connection the request came on). */
  readonly kernel: string;
  /** Every name the remote kernel announced. */
  readonly kernelAliases: readonly string[];
  /** Our session and state that runs. */
  readonly session: string;
  /** Our state that runs. */
  readonly state: string;
  /** `list` when the caller asked for every return value (Perl's wantarray). */
  readonly context: "scalar" | "list";
  /** True when an answer is wanted (the request had an rsvp). */
  readonly wantsAnswer: boolean;
  /** Where the answer goes, when one is wanted. */
  readonly rsvp: (Address & { state: string }) | undefined;
  /** Every argument (ARG0, ARG1, ...): more than one for `IKC:proxy` requests and `?arg` suffixes. */
  readonly args: readonly PerlValue[];
  /**
   * The sender (Perl's `$_[SENDER]`): `ctx.sender.post("pair_back", a, b)` is Perl's
   * `$kernel->post($_[SENDER], 'pair_back', $a, $b)`, over the same connection.
   */
  readonly sender: Sender;
  /** Posts to the kernel that sent the request, over the same connection (a bare `session/state` goes there). */
  post(target: Target, params?: PerlInput): Promise<void>;
  /** Calls a state of the kernel that sent the request, over the same connection. */
  call<T = PerlValue>(target: Target, params?: PerlInput, options?: SendOptions): Promise<T>;
}

/**
 * The sender of a request, as a running state replies to it. When its `from` names a state
 * (`IKC:proxy`, a Perl session's or a `{ from }` request's), a reply travels as an IKC:proxy
 * request `[state, [args]]` to that session, which runs `state` with ARG0.. = args; otherwise
 * (ClientLite's `IKCLite`) it goes to `{kernel, session, state}` with the args as one array.
 *
 * @example
 * ```ts
 * import type { StateHandler } from "@poe-ikc/ikc";
 * const ask: StateHandler = async (_p, ctx) => { await ctx.sender.post("pair_back", "a", "b"); return "asked"; };
 * ```
 */
export interface Sender {
  /** Posts `state` with `args` to the sender; resolves once written. */
  post(state: string, ...args: PerlInput[]): Promise<void>;
  /** Calls `state` of the sender with `args`; resolves with its answer. */
  call<T = PerlValue>(state: string, ...args: PerlInput[]): Promise<T>;
}

/**
 * A published state: gets ARG0 and the context; what it returns (or resolves to) is the answer.
 * `undefined` sends no answer at all, as a Perl state returning undef does; throwing (or
 * rejecting) answers with a remote_error carrying the message.
 *
 * @example
 * ```ts
 * import type { StateHandler } from "@poe-ikc/ikc";
 * const add: StateHandler = (params) => (params as number[]).reduce((a, b) => a + b, 0);
 * ```
 */
export type StateHandler = (params: PerlValue, ctx: StateContext) => unknown;

/**
 * A connected remote kernel, as monitors see it.
 *
 * @example
 * ```ts
 * import type { PeerInfo } from "@poe-ikc/ikc";
 * const show = (p: PeerInfo) => `${p.kernel} (${p.aliases.join(", ")}) via ${p.protocol}`;
 * ```
 */
export interface PeerInfo {
  /** Its id: the first name it announced. */
  readonly kernel: string;
  /** Every name it announced, id first. */
  readonly aliases: readonly string[];
  /** `IKC0` or classic `IKC`, as negotiated. */
  readonly protocol: "IKC0" | "IKC";
  /** The freezer both ends agreed on. */
  readonly freezer: string;
  /** The socket's far end (`host:port` or the Unix path). */
  readonly address: string;
  /** Over TLS: whether the peer's certificate was verified, and its subject. */
  readonly tls?: TlsPeer;
}

/**
 * Monitor events: a remote kernel registered (negotiation done) or unregistered (gone).
 *
 * @example
 * ```ts
 * import type { MonitorEvent } from "@poe-ikc/ikc";
 * const e: MonitorEvent = "connect";
 * ```
 */
export type MonitorEvent = "connect" | "disconnect";

/**
 * A monitor: told about a remote kernel; on disconnect `reason` says why.
 *
 * @example
 * ```ts
 * import type { MonitorHandler } from "@poe-ikc/ikc";
 * const m: MonitorHandler = (peer, reason) => console.log(peer.kernel, reason?.message);
 * ```
 */
export type MonitorHandler = (peer: PeerInfo, reason?: Error) => void;

/**
 * What a monitor on a kernel name is told (Perl's `IKC/monitor` callback ARG0..ARG2): the name it
 * monitors (`*` for every kernel), the name the event is about, and whether that is the kernel's
 * id (`real`) or one of its aliases.
 *
 * @example
 * ```ts
 * import type { KernelEvent } from "@poe-ikc/ikc";
 * const show = (e: KernelEvent) => `${e.name}: ${e.kernel}${e.real ? " (id)" : ""} at ${e.peer.address}`;
 * ```
 */
export interface KernelEvent {
  /** The name given to `monitor` (`*` or a kernel's id or alias). */
  readonly name: string;
  /** The name this event is about: the id, or one alias. */
  readonly kernel: string;
  /** True for the kernel's id, false for an alias. */
  readonly real: boolean;
  /** The kernel, as connect monitors see it. */
  readonly peer: PeerInfo;
}

/**
 * Handlers of a monitor on a kernel name: `register` once negotiation is done, `unregister` once
 * it is gone. On `*` each fires for the id, then for each alias; on a name, once.
 *
 * @example
 * ```ts
 * import type { KernelMonitor } from "@poe-ikc/ikc";
 * const m: KernelMonitor = { register: (e) => console.log("up", e.kernel), unregister: (e) => console.log("down", e.kernel) };
 * ```
 */
export interface KernelMonitor {
  /** A kernel of that name registered. */
  register?(event: KernelEvent): void;
  /** It unregistered (its connection ended). */
  unregister?(event: KernelEvent): void;
}

/**
 * The options both {@link IkcClient} and {@link IkcServer} take; each adds its own. Times are in
 * seconds.
 *
 * @example
 * ```ts
 * import type { CommonOptions } from "@poe-ikc/ikc";
 * const o: CommonOptions = { port: 6030, name: "Hub", timeout: 5 };
 * ```
 */
export interface CommonOptions {
  /**
   * The server's host (client; default `localhost`), or the address to bind (server; default
   * `127.0.0.1`, `0.0.0.0` for every interface). Ignored when `path` is set.
   */
  host?: string;
  /** TCP port (default 603); a server given 0 picks a free one, then `server.port` says which. */
  port?: number;
  /** Unix-domain socket path; when set, used instead of host/port. */
  path?: string;
  /**
   * Our kernel name (default `Client<pid>` or `Server<pid>`). Both ends announce a unique kernel
   * id first (`id`, `<name>-<8 hex>-<8 hex>-<8 hex>`) and this name after it, as an alias.
   */
  name?: string;
  /** Further names for our kernel (announced during negotiation). */
  aliases?: string[];
  /**
   * Default timeout of our requests, in seconds (default 30): a call's answer (and a client's
   * postRespond, ping, responded), a post's write.
   */
  timeout?: number;
  /**
   * Client: seconds the TCP connect may take, and then the whole negotiation (default: `timeout`).
   * Server: seconds a client has to finish negotiating before it is dropped (default 10).
   */
  connectTimeout?: number;
  /**
   * Freezer package name(s) or Freezer objects, preferred first: offered by a client (default
   * `Storable`), accepted by a server (default all three: `Storable`, `FreezeThaw`,
   * `POE::Component::IKC::Freezer`).
   */
  serializer?: string | Freezer | ReadonlyArray<string | Freezer>;
  /** Largest read from a socket in bytes (default 65535). */
  blockSize?: number;
  /**
   * `IKC0` (default: a client falls back to `IKC` when refused; a server answers both) or `IKC`
   * (a server then answers `SETUP` with `NOT`, as a Perl server spawned with protocol IKC).
   */
  protocol?: "IKC0" | "IKC";
  /** Transport to use: a Transport object or a runtime name (default: detected). */
  transport?: Transport | "deno" | "bun" | "node";
  /** Largest frame accepted from the peer in bytes (default 64 MiB); a server drops a client that sends one. */
  maxFrameSize?: number;
  /** Longest negotiation line accepted in bytes (default 4096). */
  maxLineLength?: number;
  /**
   * Bytes queued for a peer that does not read (default 16 MiB). Client: new requests wait for
   * room, and reject when their timeout ends first. Server: the client is dropped. One frame
   * bigger than this is never queued: an answer that big goes back to its caller as a
   * remote_error, a request of ours that big rejects with a LimitError.
   */
  maxWriteBuffer?: number;
  /**
   * Requests of one peer our states may be running at once (default 1000); more are refused
   * with a remote_error saying so, and run nothing.
   */
  maxInFlight?: number;
  /**
   * Asked before any published state runs for a peer (`IKC/do_you_have` included, `IKC/ping`
   * not): true runs it; false, a throw or a rejection answers with a remote_error
   * `Not authorized: ...` and reports it. Requests of one peer keep their order while it answers.
   */
  authorize?: Authorize;
  /**
   * Logs each negotiation line and one bounded, escaped line per message: `true` to stderr, or a
   * function taking each line (default: on, to stderr, when `IKC_DEBUG=1`).
   */
  debug?: DebugOption;
}
