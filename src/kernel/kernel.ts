/**
 * The kernel: what both ends of IKC share. It knows our names, the channels to remote kernels
 * (by id and alias), the states we publish, and the requests we wait on; `receive()` routes each
 * incoming message to an rsvp we wait on, to IKC's own states, or to a published state, whose
 * result goes back as the answer (or as a remote_error in the Perl Responder's words).
 *
 * @module
 */
import { DisconnectedError, IkcError, ProtocolError, RemoteError } from "../core/errors.ts";
import {
  type Address,
  addressHash,
  addressName,
  describeValue,
  type Message,
  parseMessage,
  remoteErrorMessage,
  requestMessage,
  responseMessage,
  targetName,
} from "../core/message.ts";
import type { PerlInput, PerlValue } from "../core/perl.ts";
import { formatSpecifier, parseSpecifier, type Specifier, toSpecifier } from "../core/specifier.ts";
import { utf8Lax } from "../core/text.ts";
import type { Channel } from "./channel.ts";
import { Deadlines } from "./deadline.ts";
import { Reporter } from "./report.ts";
import { type PendingRequest, type RequestKind, RequestTable } from "./requests.ts";

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
  /** Posts to the kernel that sent the request, over the same connection (a bare `session/state` goes there). */
  post(target: Target, params?: PerlInput): Promise<void>;
  /** Calls a state of the kernel that sent the request, over the same connection. */
  call<T = PerlValue>(target: Target, params?: PerlInput, options?: SendOptions): Promise<T>;
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
 * Options of a {@link Kernel}.
 *
 * @example
 * ```ts
 * import type { KernelOptions } from "./kernel.ts";
 * const o: KernelOptions = { id: "Hub", names: ["Hub"], timeout: 30 };
 * ```
 */
export interface KernelOptions {
  /** Our kernel id: what goes in `from`/`rsvp` and is announced first. */
  id: string;
  /** Every name we answer to (the id included). */
  names: string[];
  /** Default answer timeout in seconds. */
  timeout: number;
}

/** The session our rsvps live in (ClientLite's, so a Perl peer sees what it always saw). */
export const RSVP_SESSION = "IKCLite";

/** Distinct target strings whose parse {@link Kernel.spec} keeps. */
const SPEC_CACHE_SIZE = 1024;

/**
 * The routing engine both {@link IkcClient} and {@link IkcServer} are built on. Sans transport:
 * it is handed channels and the messages read from them.
 *
 * @example
 * ```ts
 * import { Kernel } from "./kernel.ts";
 * const k = new Kernel({ id: "Hub", names: ["Hub"], timeout: 30 });
 * k.publish("calc", { add: (p) => (p as number[]).reduce((a, b) => a + b, 0) });
 * console.log(k.published()); // { IKC: [...], calc: ["add"] }
 * ```
 */
export class Kernel {
  readonly id: string;
  readonly names: readonly string[];
  readonly timeout: number;
  readonly deadlines: Deadlines = new Deadlines();
  readonly requests: RequestTable = new RequestTable(this.deadlines);
  readonly reporter: Reporter;
  /**
   * Messages to states we did not publish and do not wait on: return true when taken (the
   * client's inbox for ClientLite's `responded`); otherwise the sender gets a remote_error.
   */
  unsolicited: ((message: Message, channel: Channel) => boolean) | undefined;
  /** A frame that is not an IKC message: reported by default; a server drops the client instead. */
  malformed: ((error: ProtocolError, channel: Channel) => void) | undefined;
  #published = new Map<string, Map<string, StateHandler>>();
  #channels = new Set<Channel>();
  #byName = new Map<string, Channel[]>();
  #monitors: Record<MonitorEvent, Set<MonitorHandler>> = { connect: new Set(), disconnect: new Set() };
  #seq = 1;
  #specs = new Map<string, Specifier>();
  #events = new Map<string, { kernel: string; event: string }>();
  #pings = 0;
  #idle: Array<() => void> = [];
  #busy = 0;

  constructor(options: KernelOptions) {
    this.id = options.id;
    this.names = [...new Set([options.id, ...options.names])];
    this.timeout = options.timeout;
    this.reporter = new Reporter(`ikc ${options.id}`);
    this.#published.set(
      "IKC",
      new Map<string, StateHandler>([
        ["ping", () => "PONG"],
        ["do_you_have", (p) => this.#doYouHave(p)],
        ["remote_error", () => undefined], // handled in receive(); listed because Perl publishes it
      ]),
    );
  }

  // ------------------------------------------------------------------ publishing

  /** Publishes states of `session` so remote kernels may post to and call them. */
  publish(session: string, states: Record<string, StateHandler>): void {
    if (typeof session !== "string" || session === "" || session.includes("/")) {
      throw new TypeError(`session name ${JSON.stringify(session)} must be a non-empty string without '/'`);
    }
    if (session === "IKC") throw new TypeError("the IKC session is IKC's own");
    let table = this.#published.get(session);
    if (!table) this.#published.set(session, table = new Map());
    for (const [state, handler] of Object.entries(states)) {
      if (typeof handler !== "function") throw new TypeError(`state ${session}/${state} must be a function`);
      table.set(state, handler);
    }
  }

  /** Retracts some states of `session`, or all of them. Returns false when it published nothing. */
  retract(session: string, states?: string[]): boolean {
    const table = this.#published.get(session);
    if (!table || session === "IKC") return false;
    if (states) { for (const s of states) table.delete(s); }
    if (!states || table.size === 0) this.#published.delete(session);
    return true;
  }

  /** What is published: session → state names (IKC's own included, as Perl lists them). */
  published(): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const [session, table] of this.#published) out[session] = [...table.keys()];
    return out;
  }

  /** True when `session` has published something other than IKC's own states. */
  hasPublished(): boolean {
    return this.#published.size > 1;
  }

  // ------------------------------------------------------------------ channels and monitors

  /** Registers a negotiated channel under the remote kernel's names and tells the monitors. */
  attach(channel: Channel): void {
    this.#channels.add(channel);
    for (const name of new Set([channel.info.remoteKernel, ...channel.info.remoteAliases])) {
      const list = this.#byName.get(name);
      if (list) list.push(channel);
      else this.#byName.set(name, [channel]);
    }
    this.#inform("connect", peerInfo(channel));
  }

  /** A channel ended: requests waiting on it fail with `reason`, monitors are told. */
  detach(channel: Channel, reason: Error, keep?: PendingRequest): void {
    if (!this.#channels.delete(channel)) return;
    for (const name of new Set([channel.info.remoteKernel, ...channel.info.remoteAliases])) {
      const list = this.#byName.get(name);
      if (!list) continue;
      const i = list.indexOf(channel);
      if (i >= 0) list.splice(i, 1);
      if (list.length === 0) this.#byName.delete(name);
    }
    const why = reason instanceof DisconnectedError || (reason instanceof IkcError && !(reason instanceof RemoteError))
      ? reason
      : new DisconnectedError(`connection to ${channel.conn.remote} lost: ${reason.message}`, { cause: reason });
    this.requests.failChannel(channel, why, keep);
    this.#inform("disconnect", peerInfo(channel), reason);
  }

  /** The live channel to the kernel with this id or alias (the first that registered it). */
  channelFor(name: string): Channel | undefined {
    return this.#byName.get(name)?.find((c) => c.alive);
  }

  /** Every live channel. */
  channels(): Channel[] {
    return [...this.#channels].filter((c) => c.alive);
  }

  /** Adds a monitor; returns a function that removes it. */
  monitor(event: MonitorEvent, handler: MonitorHandler): () => void {
    const set = this.#monitors[event];
    if (!set) throw new TypeError(`unknown monitor event ${JSON.stringify(event)} (connect or disconnect)`);
    set.add(handler);
    return () => set.delete(handler);
  }

  #inform(event: MonitorEvent, peer: PeerInfo, reason?: Error): void {
    for (const h of [...this.#monitors[event]]) {
      try {
        h(peer, reason);
      } catch (e) {
        this.reporter.report(new IkcError(`${event} monitor threw: ${errText(e)}`, { cause: e }));
      }
    }
  }

  /** Requests from remote kernels our states are running right now. */
  get busy(): number {
    return this.#busy;
  }

  /** Resolves once no published state is running. */
  idle(): Promise<void> {
    if (this.#busy === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  // ------------------------------------------------------------------ sending

  /** A fresh rsvp for a request of ours. */
  nextRsvp(): Address & { state: string } {
    return { kernel: this.id, session: RSVP_SESSION, state: `response${this.#seq++}` };
  }

  /** The rsvp of the next ping (ClientLite's: every ping waits on IKC/pong, answered in order). */
  pingRsvp(): Address & { state: string } {
    this.#pings++;
    return { kernel: this.id, session: "IKC", state: "pong" };
  }

  /**
   * `target` parsed (throws a ProtocolError when malformed). Parsed once per distinct string: a
   * program sends to a handful of targets, over and over, and each call would parse it up to three
   * times. Bounded, so targets that never repeat cost no more than parsing them.
   */
  spec(target: string): Specifier {
    let s = this.#specs.get(target);
    if (s === undefined) {
      s = parseSpecifier(target);
      if (this.#specs.size >= SPEC_CACHE_SIZE) {
        this.#specs.clear();
        this.#events.clear();
      }
      this.#specs.set(target, s);
    }
    return s;
  }

  /** The event for `target` as sent on `channel`: a bare `session/state` goes to that channel's kernel. */
  eventFor(target: Target, channel: Channel): PerlValue {
    if (typeof target === "string") {
      const s = this.spec(target);
      if (s.kernel !== undefined && target.startsWith("poe:")) return target;
      // Formatted once per target and remote kernel (the last one seen).
      const cached = this.#events.get(target);
      if (cached !== undefined && cached.kernel === channel.remoteKernel) return cached.event;
      const event = formatSpecifier({ ...s, kernel: channel.remoteKernel });
      this.#events.set(target, { kernel: channel.remoteKernel, event });
      return event;
    }
    if (
      target === null || typeof target !== "object" || typeof target.session !== "string" ||
      typeof target.state !== "string"
    ) {
      throw new TypeError(`a target is a specifier string or {kernel, session, state}, not ${describeValue(target)}`);
    }
    return addressHash({ kernel: target.kernel ?? channel.remoteKernel, session: target.session, state: target.state });
  }

  /** The channel a target names (its kernel), or undefined when it names none or an unknown one. */
  channelForTarget(target: Target): Channel | undefined {
    const kernel = typeof target === "string" ? this.spec(target).kernel : target.kernel;
    return kernel === undefined ? undefined : this.channelFor(kernel);
  }

  /** Posts on `channel`; resolves once written. */
  post(channel: Channel, target: Target, params: PerlValue, from?: Address): Promise<void> {
    let message: Record<string, PerlValue>;
    try {
      message = requestMessage(
        this.eventFor(target, channel) as string,
        params ?? null,
        from ?? { kernel: this.id, session: RSVP_SESSION },
      );
    } catch (e) {
      return Promise.reject(e);
    }
    return channel.write(message);
  }

  /**
   * Sends a request with an rsvp on `channel` and resolves with the answer (no reconnecting:
   * the client's dialler adds that). `kind` says what it is for error messages.
   */
  request<T = PerlValue>(
    channel: Channel,
    target: Target,
    params: PerlValue,
    options: SendOptions = {},
    kind: RequestKind = "call",
    from?: Address,
  ): Promise<T> {
    const list = options.context === "list";
    const seconds = options.timeout ?? this.timeout;
    let event: PerlValue;
    try {
      checkContext(options.context);
      checkSeconds(seconds);
      event = this.eventFor(target, channel);
    } catch (e) {
      return Promise.reject(e);
    }
    const rsvp = this.nextRsvp();
    const { entry, promise } = this.requests.open({
      kind,
      spec: typeof target === "string" ? target : addressName(target),
      key: `${rsvp.session}/${rsvp.state}`,
      list,
      seconds,
      signal: options.signal,
    });
    entry.channel = channel;
    const message = kind === "postRespond"
      ? requestMessage(
        event as string,
        [params ?? null, addressHash(rsvp)],
        from ?? { kernel: this.id, session: RSVP_SESSION },
      )
      : requestMessage(event as string, params ?? null, from ?? { kernel: this.id, session: RSVP_SESSION }, rsvp, list);
    try {
      channel.send(message, (err) => err && entry.reject(err));
    } catch (e) {
      entry.reject(e instanceof Error ? e : new IkcError(String(e)));
    }
    return promise as Promise<T>;
  }

  // ------------------------------------------------------------------ receiving

  /** Routes one thawed frame read from `channel`. Never throws: problems are reported or answered. */
  receive(value: PerlValue, channel: Channel): void {
    const m = parseMessage(value);
    if (m instanceof Error) {
      if (this.malformed) this.malformed(m, channel);
      else this.reporter.report(m, "bad-message");
      return;
    }
    const { session, state } = m.target;
    if (session === "IKC" && state === "remote_error") return this.#remoteError(m, channel);
    // Only with requests of ours waiting can this be an answer (a busy server often has none).
    const pending = this.requests.size > 0 ? this.requests.take(`${session}/${state}`) : undefined;
    if (pending) return settle(pending, m);
    const stale = this.#isStale(session, state);
    if (stale) {
      this.reporter.report(
        new ProtocolError(
          stale === "late"
            ? `dropped an answer to ${session}/${state} from ${channel.remoteKernel}: its request had already settled (timed out or aborted)`
            : `dropped a stray answer to ${session}/${state} from ${channel.remoteKernel}: no request of ours used that rsvp`,
        ),
        stale === "late" ? "late-answer" : "stray-answer",
      );
      return;
    }
    const table = this.#published.get(session);
    if (table && (table.has(state) || state === "IKC:proxy")) return this.#invoke(m, channel);
    if (this.unsolicited?.(m, channel)) return;
    this.#refuse(
      m,
      channel,
      table
        ? `Session '${session}' has not published state '${state}'`
        : `Session '${session}' is not available for remote kernels`,
      "check",
    );
  }

  /**
   * An answer no request waits for, to one of our rsvp states: `late` when we used that rsvp
   * (the request timed out or was aborted), `stray` when we never did. Neither is parked.
   */
  #isStale(session: string, state: string): "late" | "stray" | undefined {
    if (session === "IKC") return state === "pong" ? (this.#pings > 0 ? "late" : "stray") : undefined;
    if (session !== RSVP_SESSION || !/^response\d+$/.test(state)) return undefined;
    const n = Number(state.slice(8));
    return n > 0 && n < this.#seq ? "late" : "stray";
  }

  /** A remote_error settles a request sent on the same connection, never one to another kernel. */
  #remoteError(m: Message, channel: Channel): void {
    const err = remoteErrorFrom(m.params);
    // Ours carry the request's rsvp; Perl's only name the request: "... Request poe://K/s/e sent by ...".
    const rsvp = Array.isArray(m.params) ? toSpecifier(m.params[3]) : undefined;
    if (rsvp) {
      const p = this.requests.take(`${rsvp.session}/${rsvp.state}`);
      if (p && p.channel === channel) return p.reject(err);
    }
    const named = requestNamed(err.remoteMessage);
    const target = named === undefined ? undefined : toSpecifier(named);
    if (target) {
      for (const p of this.requests.pending()) {
        if (p.channel !== channel) continue;
        const s = p.kind === "ping" ? { session: "IKC", state: "ping" } : safeSpec(p.spec);
        if (s && s.session === target.session && s.state === target.state) return p.reject(err);
      }
    }
    this.reporter.report(err, "remote-error");
  }

  #invoke(m: Message, channel: Channel): void {
    const session = m.target.session;
    let state = m.target.state;
    let args: PerlValue[] = [m.params];
    if (state === "IKC:proxy") {
      // A proxied request carries [state, [ARG0, ARG1, ...]].
      const p = m.params;
      state = Array.isArray(p) && typeof p[0] === "string" ? p[0] : "";
      args = Array.isArray(p) && Array.isArray(p[1]) ? [...p[1]] : [];
    }
    if (m.target.args !== undefined) args.push(m.target.args);
    const handler = this.#published.get(session)?.get(state);
    if (!handler) {
      return this.#refuse(m, channel, `Session '${session}' has not published state '${state}'`, "check");
    }
    const list = m.wantarray;
    const rsvp = m.rsvp;
    const from: Address = { kernel: this.id, session, state: "IKC:proxy" };
    const ctx: StateContext = {
      from: m.from,
      kernel: channel.remoteKernel,
      kernelAliases: channel.info.remoteAliases,
      session,
      state,
      context: list ? "list" : "scalar",
      wantsAnswer: rsvp !== undefined,
      // An rsvp without a state cannot be posted to; the answer (if any) fails on its own.
      rsvp: rsvp?.state !== undefined ? (rsvp as Address & { state: string }) : undefined,
      args,
      post: (target, params) => this.post(channel, target, (params ?? null) as PerlValue, from),
      call: <T>(target: Target, params?: PerlInput, options?: SendOptions) =>
        this.request<T>(channel, target, (params ?? null) as PerlValue, options, "call", from),
    };
    const done = (result: unknown) => {
      this.#finished(channel);
      if (!rsvp || result === undefined || !channel.alive) return;
      const params = list ? (Array.isArray(result) ? result : [result]) : result;
      try {
        // Answered to the rsvp hash as received: a Perl rsvp may carry `args` (`poe:state?tag`)
        // that its state gets back as a further argument.
        const raw = m.raw.rsvp;
        const event = raw !== null && typeof raw === "object" && !Array.isArray(raw) && !(raw instanceof Uint8Array)
          ? raw as Record<string, PerlValue>
          : addressHash(rsvp);
        channel.send(responseMessage(event, params as PerlValue, from));
      } catch (e) {
        this.#refuse(
          m,
          channel,
          `State '${session}/${state}' returned a value that cannot be sent: ${errText(e)}`,
          "invocation",
        );
      }
    };
    const failed = (e: unknown) => {
      this.#finished(channel);
      this.#refuse(m, channel, `State '${session}/${state}' failed: ${errText(e)}`, "invocation");
    };
    this.#busy++;
    channel.busy++;
    let result: unknown;
    try {
      result = handler(args.length > 0 ? args[0] : null, ctx);
    } catch (e) {
      return failed(e);
    }
    if (result !== null && typeof result === "object" && typeof (result as PromiseLike<unknown>).then === "function") {
      (result as PromiseLike<unknown>).then(done, failed);
    } else {
      done(result);
    }
  }

  #finished(channel: Channel): void {
    channel.busy--;
    // Checked first: a server whose states answer at once comes back to 0 after every request.
    if (--this.#busy === 0 && this.#idle.length > 0) { for (const f of this.#idle.splice(0)) f(); }
  }

  /** Answers a request we cannot run with a remote_error (never an error with an error) and reports it here too. */
  #refuse(m: Message, channel: Channel, why: string, phase: string): void {
    const text = `${why}.  Request ${targetName(m.target)}${m.from ? ` sent by ${addressName(m.from)}` : ""}`;
    this.reporter.report(new RemoteError(text, this.id, phase), "refused");
    if (m.isError || !channel.alive) return;
    try {
      channel.send(remoteErrorMessage(channel.remoteKernel, text, m.target.kernel ?? this.id, phase, m.rsvp));
    } catch {
      // a remote_error always freezes; a dead channel already reported itself
    }
  }

  #doYouHave(p: PerlValue): PerlValue {
    const want = sessionSpec(Array.isArray(p) ? p[0] : p);
    if (!want) throw new ProtocolError(`Bad state ${describeValue(Array.isArray(p) ? p[0] : p)}`);
    const table = want.session === "IKC" ? undefined : this.#published.get(want.session);
    if (table && (want.state === undefined || table.has(want.state))) {
      const ses: Record<string, PerlValue> = { kernel: want.kernel ?? this.id, session: want.session };
      if (want.state !== undefined) ses.state = want.state;
      return [ses, this.id];
    }
    return `Refused subscription ${addressName(want)}`;
  }
}

/** A session specifier whose state is optional (`poe://K/S`, `{kernel, session}`), as subscriptions name them. */
function sessionSpec(v: PerlValue): Address | undefined {
  if (typeof v === "string") {
    const m = /^(?:poe:\/\/([^/]*)\/|poe:\/?)?([^/?]+)(?:\/([^?]*))?/.exec(v);
    if (!m) return undefined;
    const a: Address = { session: m[2] };
    if (m[1]) a.kernel = m[1];
    if (m[3]) a.state = m[3];
    return a;
  }
  if (v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof Uint8Array)) {
    const h = v as Record<string, PerlValue>;
    if (typeof h.session !== "string" || h.session === "") return undefined;
    const a: Address = { session: h.session };
    if (typeof h.kernel === "string" && h.kernel !== "") a.kernel = h.kernel;
    if (typeof h.state === "string" && h.state !== "") a.state = h.state;
    return a;
  }
  return undefined;
}

function settle(p: PendingRequest, m: Message): void {
  if (m.isError) return p.reject(remoteErrorFrom(m.params));
  if (p.list) return p.resolve(Array.isArray(m.params) ? m.params : m.params === null ? [] : [m.params]);
  p.resolve(m.params);
}

function peerInfo(channel: Channel): PeerInfo {
  return {
    kernel: channel.info.remoteKernel,
    aliases: [...channel.info.remoteAliases],
    protocol: channel.info.protocol,
    freezer: channel.info.freezer,
    address: channel.conn.remote,
  };
}

/**
 * A remote_error's params (`[text, kernel, phase, ...]`, or a bare text) as a RemoteError.
 *
 * @example
 * ```ts
 * import { remoteErrorFrom } from "./kernel.ts";
 * remoteErrorFrom(["Session 'x' is not available", "Hub", "check"]).remoteKernel; // "Hub"
 * ```
 */
export function remoteErrorFrom(params: PerlValue): RemoteError {
  if (Array.isArray(params)) {
    const [msg, kernel, phase] = params;
    return new RemoteError(
      textOf(msg),
      kernel == null ? undefined : textOf(kernel),
      phase == null ? undefined : textOf(phase),
    );
  }
  return new RemoteError(textOf(params));
}

/** The specifier a Perl remote_error text names after "Request", found without backtracking. */
function requestNamed(text: string): string | undefined {
  const at = text.lastIndexOf("Request ");
  if (at < 0) return undefined;
  let i = at + 8;
  while (i < text.length && text.charCodeAt(i) <= 32) i++;
  let j = i;
  while (j < text.length && text.charCodeAt(j) > 32) j++;
  return j > i ? text.slice(i, j) : undefined;
}

function safeSpec(spec: string): Specifier | undefined {
  try {
    return parseSpecifier(spec);
  } catch {
    return undefined;
  }
}

function textOf(v: PerlValue): string {
  if (typeof v === "string") return v;
  if (v instanceof Uint8Array) return utf8Lax(v);
  if (v === null || v === undefined) return "";
  if (typeof v === "object") return describeValue(v);
  return String(v);
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/**
 * Throws a TypeError unless `seconds` is a positive number.
 *
 * @example
 * ```ts
 * import { checkSeconds } from "./kernel.ts";
 * checkSeconds(5);
 * ```
 */
export function checkSeconds(seconds: number, what = "timeout"): void {
  if (!(typeof seconds === "number" && seconds > 0)) {
    throw new TypeError(`${what} must be a positive number of seconds`);
  }
}

/**
 * Throws a TypeError unless `context` is undefined, `scalar` or `list`.
 *
 * @example
 * ```ts
 * import { checkContext } from "./kernel.ts";
 * checkContext("list");
 * ```
 */
export function checkContext(context: unknown): void {
  if (context !== undefined && context !== "list" && context !== "scalar") {
    throw new TypeError(`context must be "scalar" or "list", not ${String(context)}`);
  }
}
