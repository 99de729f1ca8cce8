/**
 * The IKC client: a port of Perl's POE::Component::IKC::ClientLite with an async API, on the
 * same kernel as the server. Many requests may be in flight on one connection; each is matched to
 * its own answer. Like POE's full IKC::Client it may also publish states, which the remote kernel
 * then posts to and calls over the connection we dialled, and subscribe to the remote's sessions.
 *
 * @module
 */
import {
  AbortError,
  ConnectError,
  DisconnectedError,
  IkcError,
  ProtocolError,
  SubscriptionError,
  TimeoutError,
  UnsupportedRuntimeError,
} from "./core/errors.ts";
import type { Freezer } from "./core/freezer.ts";
import { resolveFreezers } from "./core/freezers.ts";
import { type Address, addressHash, type Message, requestMessage } from "./core/message.ts";
import { ClientNegotiation, isValidKernelName, type NegotiationResult } from "./core/negotiation.ts";
import type { PerlInput, PerlValue } from "./core/perl.ts";
import { Channel } from "./kernel/channel.ts";
import { type Deadline, delay } from "./kernel/deadline.ts";
import {
  checkContext,
  checkSeconds,
  Kernel,
  type MonitorHandler,
  RSVP_SESSION,
  type StateHandler,
  type Target,
} from "./kernel/kernel.ts";
import { negotiate } from "./kernel/negotiate.ts";
import type { ErrorHandler } from "./kernel/report.ts";
import type { PendingRequest, RequestKind } from "./kernel/requests.ts";
import { detectTransport, transportFor } from "./transport/detect.ts";
import type { Connection, ConnectTlsOptions, Transport } from "./transport/types.ts";
import { processId } from "./runtime.ts";

/**
 * Options for {@link IkcClient}. Times are in seconds, as in Perl's ClientLite.
 *
 * @example
 * ```ts
 * import type { IkcClientOptions } from "@poe-ikc/ikc";
 * const o: IkcClientOptions = { host: "127.0.0.1", port: 6030, name: "TsClient", timeout: 5 };
 * ```
 */
export interface IkcClientOptions {
  /** Server host (default `localhost`). Ignored when `path` is set. */
  host?: string;
  /** Server TCP port (default 603). */
  port?: number;
  /** Unix-domain socket path; when set, used instead of host/port. */
  path?: string;
  /** Our kernel name (default `Client<pid>`). */
  name?: string;
  /** Further names for our kernel (announced during negotiation). */
  aliases?: string[];
  /** Default answer timeout in seconds for call, postRespond, responded and ping (default 30). */
  timeout?: number;
  /** Seconds the TCP connect may take, and then the whole negotiation (default: `timeout`). */
  connectTimeout?: number;
  /** Freezer package name(s) or Freezer objects to offer, preferred first (default `Storable`). */
  serializer?: string | Freezer | ReadonlyArray<string | Freezer>;
  /** Largest read from the socket in bytes (default 65535). */
  blockSize?: number;
  /** Speak TLS to the server (`true`: verify it against the system's roots); never falls back to plain. */
  tls?: true | ConnectTlsOptions;
  /** `IKC0` (default; falls back to `IKC` when refused) or `IKC`. */
  protocol?: "IKC0" | "IKC";
  /** Transport to use: a Transport object or a runtime name (default: detected). */
  transport?: Transport | "deno" | "bun" | "node";
  /** Largest frame accepted from the server in bytes (default 64 MiB). */
  maxFrameSize?: number;
  /** Longest negotiation line accepted from the server in bytes (default 4096). */
  maxLineLength?: number;
  /**
   * Bytes queued for a server that does not read before new requests wait for room (default 16 MiB);
   * a request still waiting when its timeout ends rejects.
   */
  maxWriteBuffer?: number;
  /** Reconnect and resend once when a send fails, as ClientLite does (default true). */
  reconnect?: boolean;
  /**
   * Keep the connection up on our own: when it drops, reconnect with backoff until
   * `disconnect()` (default: true once the client has published a state, since a client that is
   * called rather than calling would otherwise never notice it is gone).
   */
  keepAlive?: boolean;
  /** Messages kept for states nobody listens to yet, for a later `responded` (default 1000). */
  inboxLimit?: number;
}

/**
 * Per-request options.
 *
 * @example
 * ```ts
 * import type { RequestOptions } from "@poe-ikc/ikc";
 * const o: RequestOptions = { timeout: 2, signal: AbortSignal.timeout(5000) };
 * ```
 */
export interface RequestOptions {
  /** Seconds to wait for the answer (default: the client's `timeout`). */
  timeout?: number;
  /** Cancels the wait; the request rejects with an AbortError. */
  signal?: AbortSignal;
}

/**
 * Options for {@link IkcClient.call}.
 *
 * @example
 * ```ts
 * import type { CallOptions } from "@poe-ikc/ikc";
 * const o: CallOptions = { context: "list" };
 * ```
 */
export interface CallOptions extends RequestOptions {
  /** `scalar` (default) or `list`: in list context the answer is an array of every return value. */
  context?: "scalar" | "list";
}

/**
 * A message the server sent on its own to one of our states.
 *
 * @example
 * ```ts
 * import type { IkcMessage } from "@poe-ikc/ikc";
 * function log(m: IkcMessage) { console.log(m.state, m.params); }
 * ```
 */
export interface IkcMessage {
  /** The state it was sent to (our session is `IKCLite`). */
  state: string;
  /** The session it was sent to. */
  session: string;
  /** Its payload. */
  params: PerlValue;
  /** The whole message hash as received. */
  raw: Record<string, PerlValue>;
}

/**
 * A handler for server-initiated messages (see {@link IkcClient.on}).
 *
 * @example
 * ```ts
 * import type { MessageHandler } from "@poe-ikc/ikc";
 * const log: MessageHandler = (params, message) => console.log(message.state, params);
 * ```
 */
export type MessageHandler = (params: PerlValue, message: IkcMessage) => void;

/**
 * Where the client's connection stands: `idle` (not connected; the next request connects),
 * `connecting`, `connected`, `reconnecting` (lost, and keeping itself up), `closed` (by `disconnect()`).
 *
 * @example
 * ```ts
 * import type { ClientStatus } from "@poe-ikc/ikc";
 * const s: ClientStatus = "reconnecting";
 * ```
 */
export type ClientStatus = "idle" | "connecting" | "connected" | "reconnecting" | "closed";

/**
 * A session of the remote kernel we subscribed to (see {@link IkcClient.subscribe}).
 *
 * @example
 * ```ts
 * import type { RemoteSession } from "@poe-ikc/ikc";
 * async function use(s: RemoteSession) { await s.post("log", "hi"); return await s.call<number>("add", [1, 2]); }
 * ```
 */
export interface RemoteSession {
  /** The remote kernel's id, as its answer named it. */
  readonly kernel: string;
  /** The session. */
  readonly session: string;
  /** Posts to one of its states. */
  post(state: string, params?: PerlInput): Promise<void>;
  /** Calls one of its states. */
  call<T = PerlValue>(state: string, params?: PerlInput, options?: CallOptions): Promise<T>;
}

interface Waiter {
  resolve(m: IkcMessage): void;
  reject(e: Error): void;
}

type Build = (channel: Channel) => Record<string, PerlValue>;

/** What the send paths need of a request or a post: whether it settled, where it was written. */
interface Job {
  settled: boolean;
  channel: Channel | undefined;
}

/**
 * An IKC client connection to a POE kernel running POE::Component::IKC::Server (or an {@link IkcServer}).
 *
 * @example
 * ```ts
 * import { IkcClient } from "@poe-ikc/ikc";
 * const ikc = await IkcClient.connect({ port: 6030, name: "TsClient" });
 * const sum = await ikc.call("calc/add", [1, 2, 3]);
 * await ikc.post("log/write", { level: "info", text: "hello" });
 * await ikc.disconnect();
 * ```
 */
export class IkcClient {
  /** Our kernel name. */
  readonly name: string;
  /** The last error message, as Perl's `$ikc->error`. */
  error: string | undefined;

  #opts: Required<Omit<IkcClientOptions, "path" | "transport" | "serializer" | "aliases" | "keepAlive" | "tls">> & {
    path?: string;
    tls?: true | ConnectTlsOptions;
    aliases: string[];
    keepAlive: boolean | undefined;
  };
  #freezers: Freezer[];
  #transport: Transport;
  #kernel: Kernel;
  #channel: Channel | undefined;
  #connecting: Promise<Channel> | undefined;
  #info: NegotiationResult | undefined;
  #handlers = new Map<string, Set<MessageHandler>>();
  #waiters = new Map<string, Waiter[]>();
  #inbox = new Map<string, IkcMessage[]>();
  #inboxSize = 0;
  #closedByUser = false;
  #status: ClientStatus = "idle";
  #statusHandlers = new Set<(s: ClientStatus) => void>();
  #keeper: AbortController | undefined;
  #lostChannels = new WeakSet<Channel>();

  /**
   * Creates a client without connecting; the first request (or {@link IkcClient.open}) connects.
   *
   * @example
   * ```ts
   * import { IkcClient } from "@poe-ikc/ikc";
   * const ikc = new IkcClient({ path: "/tmp/ikc.sock" });
   * await ikc.open();
   * ```
   */
  constructor(options: IkcClientOptions = {}) {
    const timeout = options.timeout ?? 30;
    this.name = options.name ?? `Client${processId()}`;
    this.#opts = {
      host: options.host ?? "localhost",
      port: options.port ?? 603,
      path: options.path,
      tls: options.tls,
      name: this.name,
      aliases: options.aliases ?? [],
      timeout,
      connectTimeout: options.connectTimeout ?? timeout,
      blockSize: options.blockSize ?? 65535,
      protocol: options.protocol ?? "IKC0",
      maxFrameSize: options.maxFrameSize ?? 64 * 1024 * 1024,
      maxLineLength: options.maxLineLength ?? 4096,
      maxWriteBuffer: options.maxWriteBuffer ?? 16 * 1024 * 1024,
      reconnect: options.reconnect ?? true,
      keepAlive: options.keepAlive,
      inboxLimit: options.inboxLimit ?? 1000,
    };
    checkSeconds(timeout);
    checkSeconds(this.#opts.connectTimeout, "connectTimeout");
    if (!(this.#opts.blockSize >= 1)) throw new TypeError("blockSize must be at least 1");
    if (!(this.#opts.maxWriteBuffer >= 1)) throw new TypeError("maxWriteBuffer must be at least 1");
    if (this.#opts.protocol !== "IKC0" && this.#opts.protocol !== "IKC") {
      throw new TypeError(`protocol must be IKC0 or IKC, not ${this.#opts.protocol}`);
    }
    for (const n of [this.name, ...this.#opts.aliases]) {
      if (!isValidKernelName(n)) {
        throw new TypeError(`kernel name ${JSON.stringify(n)} may only hold letters, digits, '_', '-' and '.'`);
      }
    }
    this.#freezers = resolveFreezers(options.serializer ?? "Storable");
    const t = options.transport;
    this.#transport = t === undefined ? detectTransport() : typeof t === "string" ? transportFor(t) : t;
    this.#kernel = new Kernel({ id: this.name, names: [this.name, ...this.#opts.aliases], timeout });
    this.#kernel.unsolicited = (m) => this.#unsolicited(m);
    // An open connection keeps the process alive anyway: only then may an idle timer stay armed.
    this.#kernel.deadlines.holdWhile(() => this.#channel?.alive === true);
    this.#kernel.reporter.tap = (e) => {
      this.error = e.message;
    };
  }

  /**
   * Creates a client and connects it (ClientLite's `spawn`/`create_ikc_client`).
   * Rejects with a ConnectError when the server cannot be reached or negotiation fails.
   *
   * @example
   * ```ts
   * import { IkcClient } from "@poe-ikc/ikc";
   * const ikc = await IkcClient.connect({ host: "localhost", port: 603 });
   * ```
   */
  static async connect(options: IkcClientOptions = {}): Promise<IkcClient> {
    const client = new IkcClient(options);
    await client.open();
    return client;
  }

  /** The remote kernel's id (its first announced name), once connected. */
  get remoteKernel(): string | undefined {
    return this.#info?.remoteKernel;
  }

  /** Every name the remote kernel announced. */
  get remoteAliases(): string[] {
    return this.#info ? [...this.#info.remoteAliases] : [];
  }

  /** The negotiated protocol (`IKC0`, or `IKC` after fallback). */
  get protocol(): "IKC0" | "IKC" | undefined {
    return this.#info?.protocol;
  }

  /** The negotiated freezer package. */
  get freezer(): string | undefined {
    return this.#info?.freezer;
  }

  /** True while a negotiated connection is open. */
  get connected(): boolean {
    return this.#channel?.alive === true;
  }

  /** Where the connection stands (see {@link ClientStatus}). */
  get status(): ClientStatus {
    return this.#status;
  }

  /** Number of requests waiting for an answer. */
  get pendingCount(): number {
    return this.#kernel.requests.size;
  }

  /**
   * Connects (or reconnects) now. Resolves once negotiation is done.
   *
   * @example
   * ```ts
   * import { IkcClient } from "@poe-ikc/ikc";
   * const ikc = new IkcClient({ port: 6030 });
   * await ikc.open();
   * console.log(ikc.remoteKernel);
   * ```
   */
  async open(): Promise<void> {
    this.#closedByUser = false;
    await this.#track(() => this.#ensureChannel());
  }

  /**
   * Sends an event and resolves once it is written to the socket (no answer is expected).
   * A bare `session/state` is sent to the connected kernel. When the server stops reading, posts
   * wait for room in the write buffer (`maxWriteBuffer`) and reject with a TimeoutError when
   * their `timeout` ends first (or an AbortError through `signal`): a post that rejects was not
   * confirmed written (one already queued may still go out).
   *
   * @example
   * ```ts
   * import { IkcClient } from "@poe-ikc/ikc";
   * const ikc = await IkcClient.connect({ port: 6030 });
   * await ikc.post("log/write", "hello");
   * await ikc.post("log/write", "bounded", { timeout: 2 });
   * ```
   */
  post(spec: Target, params?: PerlInput, options: RequestOptions = {}): Promise<void> {
    const seconds = options.timeout ?? this.#opts.timeout;
    const name = typeof spec === "string" ? spec : `${spec.session}/${spec.state}`;
    try {
      if (typeof spec === "string") this.#kernel.spec(spec);
      checkSeconds(seconds);
    } catch (e) {
      this.error = errText(e);
      return Promise.reject(e);
    }
    const signal = options.signal;
    return new Promise<void>((resolve, reject) => {
      const job: Job = { settled: false, channel: undefined };
      const finish = (err?: Error) => {
        if (job.settled) return;
        job.settled = true;
        timer.cancel();
        if (signal && onAbort) signal.removeEventListener("abort", onAbort);
        if (err) {
          this.error = err.message;
          reject(err);
        } else {
          resolve();
        }
      };
      const timer = this.#kernel.deadlines.add(
        seconds * 1000,
        () =>
          finish(
            new TimeoutError(
              `post ${name}: not written within ${seconds} s (the server is not reading, or is unreachable)`,
            ),
          ),
      );
      let onAbort: (() => void) | undefined;
      if (signal) {
        onAbort = () => finish(new AbortError(`post ${name}: aborted`, { cause: signal.reason }));
        if (signal.aborted) queueMicrotask(onAbort);
        else signal.addEventListener("abort", onAbort, { once: true });
      }
      const build: Build = (ch) =>
        requestMessage(this.#kernel.eventFor(spec, ch) as string, (params ?? null) as PerlValue, {
          kernel: this.name,
          session: RSVP_SESSION,
        });
      // Connected and with room: queued now, in the order requests are made (calls take the same path).
      const ch = this.#channel;
      if (ch !== undefined && ch.alive && !ch.full) {
        try {
          job.channel = ch;
          ch.send(build(ch), (err) => {
            if (!err) return finish();
            this.#retry(err, ch, build, job).then(() => finish(), (e) => finish(asError(e)));
          });
        } catch (e) {
          finish(asError(e));
        }
      } else {
        this.#sendWithRetry(build, job).then(() => finish(), (e) => finish(asError(e)));
      }
    });
  }

  /**
   * Calls a remote state and resolves with its return value. In `list` context the result is an
   * array of every value the state returned. A state that returns undef (or an empty list) makes
   * Perl send no answer at all: the call then rejects with a TimeoutError saying so.
   *
   * @example
   * ```ts
   * import { IkcClient } from "@poe-ikc/ikc";
   * const ikc = await IkcClient.connect({ port: 6030 });
   * const n = await ikc.call<number>("calc/add", [1, 2]);
   * const all = await ikc.call<string[]>("calc/split", "a,b", { context: "list" });
   * ```
   */
  call<T = PerlValue>(spec: Target, params?: PerlInput, options: CallOptions = {}): Promise<T> {
    const list = options.context === "list";
    try {
      checkContext(options.context);
    } catch (e) {
      return Promise.reject(e);
    }
    const rsvp = this.#kernel.nextRsvp();
    return this.#request(
      "call",
      spec,
      rsvp,
      list,
      options,
      (ch) =>
        requestMessage(
          this.#kernel.eventFor(spec, ch) as string,
          (params ?? null) as PerlValue,
          { kernel: this.name, session: RSVP_SESSION },
          rsvp,
          list,
        ),
    ) as Promise<T>;
  }

  /**
   * Posts an event whose params are `[params, rsvp]`; the remote state answers whenever it likes by
   * posting to that rsvp. Resolves with the answer's params.
   *
   * @example
   * ```ts
   * import { IkcClient } from "@poe-ikc/ikc";
   * const ikc = await IkcClient.connect({ port: 6030 });
   * const result = await ikc.postRespond("jobs/run", { job: 7 }, { timeout: 60 });
   * ```
   */
  postRespond<T = PerlValue>(spec: Target, params?: PerlInput, options: RequestOptions = {}): Promise<T> {
    const rsvp = this.#kernel.nextRsvp();
    return this.#request(
      "postRespond",
      spec,
      rsvp,
      false,
      options,
      (ch) =>
        requestMessage(this.#kernel.eventFor(spec, ch) as string, [(params ?? null) as PerlValue, addressHash(rsvp)], {
          kernel: this.name,
          session: RSVP_SESSION,
        }),
    ) as Promise<T>;
  }

  /**
   * Waits for the next message the server sends to our state `state` (ClientLite's `responded`).
   * Messages that arrived earlier with nobody listening are kept and returned first.
   *
   * @example
   * ```ts
   * import { IkcClient } from "@poe-ikc/ikc";
   * const ikc = await IkcClient.connect({ port: 6030 });
   * await ikc.post("feed/subscribe", { state: "tick" });
   * const first = await ikc.responded("tick");
   * ```
   */
  async responded<T = PerlValue>(state: string, options: RequestOptions = {}): Promise<T> {
    const msg = await this.nextMessage(state, options);
    return msg.params as T;
  }

  /**
   * Like {@link IkcClient.responded} but resolves with the whole message.
   *
   * @example
   * ```ts
   * import { IkcClient } from "@poe-ikc/ikc";
   * const ikc = await IkcClient.connect({ port: 6030 });
   * const m = await ikc.nextMessage("tick", { timeout: 5 });
   * console.log(m.params, m.raw.from);
   * ```
   */
  nextMessage(state: string, options: RequestOptions = {}): Promise<IkcMessage> {
    const queued = this.#inbox.get(state);
    if (queued && queued.length > 0) {
      const m = queued.shift()!;
      this.#inboxSize--;
      if (queued.length === 0) this.#inbox.delete(state);
      return Promise.resolve(m);
    }
    const seconds = options.timeout ?? this.#opts.timeout;
    return this.#track(async () => {
      checkSeconds(seconds);
      if (!this.#channel?.alive) await this.#ensureChannel();
      return await this.#wait(state, seconds, options.signal);
    });
  }

  /**
   * Checks the remote kernel answers: calls `IKC/ping` and resolves true on `PONG`.
   *
   * @example
   * ```ts
   * import { IkcClient } from "@poe-ikc/ikc";
   * const ikc = await IkcClient.connect({ port: 6030 });
   * console.log(await ikc.ping()); // true
   * ```
   */
  async ping(options: RequestOptions = {}): Promise<boolean> {
    const rsvp = this.#kernel.pingRsvp();
    const answer = await this.#request(
      "ping",
      "IKC/ping",
      rsvp,
      false,
      options,
      (ch) =>
        requestMessage(
          this.#kernel.eventFor("IKC/ping", ch) as string,
          "PING",
          { kernel: this.name, session: RSVP_SESSION },
          rsvp,
          false,
        ),
    );
    if (answer !== "PONG") {
      const e = new ProtocolError(`ping answered ${JSON.stringify(answer)} instead of PONG`);
      this.error = e.message;
      throw e;
    }
    return true;
  }

  /**
   * Publishes states of `session`: the remote kernel may then post to and call them over this
   * connection (`poe://<our name>/<session>/<state>`), as it would a Perl IKC::Client's. A client
   * that has published keeps its connection up on its own (see `keepAlive`).
   *
   * @example
   * ```ts
   * import { IkcClient } from "@poe-ikc/ikc";
   * const worker = await IkcClient.connect({ port: 6030, name: "Worker1" });
   * worker.publish("work", { square: (n) => (n as number) ** 2 });
   * ```
   */
  publish(session: string, states: Record<string, StateHandler>): void {
    this.#kernel.publish(session, states);
  }

  /**
   * Retracts states published with {@link IkcClient.publish} (all of the session's when `states` is omitted).
   *
   * @example
   * ```ts
   * import { IkcClient } from "@poe-ikc/ikc";
   * const worker = new IkcClient({ port: 6030 });
   * worker.publish("work", { square: (n) => (n as number) ** 2 });
   * worker.retract("work", ["square"]);
   * ```
   */
  retract(session: string, states?: string[]): boolean {
    return this.#kernel.retract(session, states);
  }

  /**
   * What we publish: session → state names (IKC's own `IKC` session included, as Perl lists it).
   *
   * @example
   * ```ts
   * import { IkcClient } from "@poe-ikc/ikc";
   * const c = new IkcClient({ port: 6030 });
   * c.publish("work", { square: (n) => (n as number) ** 2 });
   * console.log(c.published().work); // ["square"]
   * ```
   */
  published(): Record<string, string[]> {
    return this.#kernel.published();
  }

  /**
   * Subscribes to a session the remote kernel published (`IKC/do_you_have`): resolves to a handle
   * for posting to and calling it, or rejects with a SubscriptionError when it is not published.
   * `spec` is `poe://Kernel/session` (or a bare `session`, on the connected kernel).
   *
   * @example
   * ```ts
   * import { IkcClient } from "@poe-ikc/ikc";
   * const ikc = await IkcClient.connect({ port: 6030 });
   * const calc = await ikc.subscribe("poe://Hub/calc");
   * console.log(await calc.call("add", [1, 2]));
   * ```
   */
  subscribe(spec: string, options: RequestOptions = {}): Promise<RemoteSession> {
    return this.#track(async () => {
      const m = /^(?:poe:\/\/([^/]+)\/|poe:\/?)?([^/?]+)\/?$/.exec(spec);
      if (!m) throw new TypeError(`subscribe wants poe://Kernel/session, not ${JSON.stringify(spec)}`);
      const ch = await this.#ensureChannel();
      const kernel = m[1] ?? ch.remoteKernel;
      const session = m[2];
      const answer = await this.#kernel.request(
        ch,
        { kernel, session: "IKC", state: "do_you_have" },
        [
          { kernel, session },
          this.name,
        ],
        options,
        "subscribe",
        { kernel: this.name, session: "IKC" },
      );
      if (!Array.isArray(answer) || answer[0] === null || typeof answer[0] !== "object") {
        throw new SubscriptionError(
          typeof answer === "string" ? answer : `Refused subscription poe://${kernel}/${session}`,
        );
      }
      const ses = answer[0] as Record<string, PerlValue>;
      const remote = typeof ses.kernel === "string" ? ses.kernel : kernel;
      return {
        kernel: remote,
        session,
        post: (state: string, params?: PerlInput) => this.post(`poe://${remote}/${session}/${state}`, params),
        call: <T>(state: string, params?: PerlInput, o?: CallOptions) =>
          this.call<T>(`poe://${remote}/${session}/${state}`, params, o),
      };
    });
  }

  /**
   * Registers a handler for messages the server sends on its own to our state `state`.
   * Returns a function that removes it.
   *
   * @example
   * ```ts
   * import { IkcClient } from "@poe-ikc/ikc";
   * const ikc = await IkcClient.connect({ port: 6030 });
   * const off = ikc.on("tick", (params) => console.log("tick", params));
   * off();
   * ```
   */
  on(state: string, handler: MessageHandler): () => void {
    let set = this.#handlers.get(state);
    if (!set) this.#handlers.set(state, set = new Set());
    set.add(handler);
    // Deliver what arrived before anyone listened.
    const queued = this.#inbox.get(state);
    if (queued) {
      this.#inbox.delete(state);
      this.#inboxSize -= queued.length;
      for (const m of queued) this.#callHandler(handler, m);
    }
    return () => {
      set!.delete(handler);
      if (set!.size === 0 && this.#handlers.get(state) === set) this.#handlers.delete(state);
    };
  }

  /**
   * Registers a handler for errors that belong to no request: a remote_error for a post, a
   * connection lost with nothing pending, a message that could not be delivered. Repeats of one
   * kind in a burst arrive as one report and one summary with a count. Returns a function that
   * removes it. Without any handler such errors go to `console.warn`.
   *
   * @example
   * ```ts
   * import { IkcClient } from "@poe-ikc/ikc";
   * const ikc = await IkcClient.connect({ port: 6030 });
   * ikc.onError((e) => console.error("ikc:", e.message));
   * ```
   */
  onError(handler: ErrorHandler): () => void {
    return this.#kernel.reporter.add(handler);
  }

  /**
   * Monitors: called when the remote kernel registers (negotiation done) or unregisters (the
   * connection is gone; `reason` says why). Returns a function that removes it.
   *
   * @example
   * ```ts
   * import { IkcClient } from "@poe-ikc/ikc";
   * const ikc = new IkcClient({ port: 6030 });
   * ikc.monitor("connect", (peer) => console.log("up:", peer.kernel, peer.aliases));
   * ikc.monitor("disconnect", (peer, why) => console.log("down:", peer.kernel, why?.message));
   * ```
   */
  monitor(event: "connect" | "disconnect", handler: MonitorHandler): () => void {
    return this.#kernel.monitor(event, handler);
  }

  /**
   * Calls `handler` each time {@link IkcClient.status} changes. Returns a function that removes it.
   *
   * @example
   * ```ts
   * import { IkcClient } from "@poe-ikc/ikc";
   * const ikc = new IkcClient({ port: 6030 });
   * ikc.onStatus((s) => console.log("ikc is", s));
   * ```
   */
  onStatus(handler: (status: ClientStatus) => void): () => void {
    this.#statusHandlers.add(handler);
    return () => this.#statusHandlers.delete(handler);
  }

  /**
   * Closes the connection. Pending requests reject with a DisconnectedError. A later request
   * connects again.
   *
   * @example
   * ```ts
   * import { IkcClient } from "@poe-ikc/ikc";
   * const ikc = await IkcClient.connect({ port: 6030 });
   * await ikc.disconnect();
   * ```
   */
  async disconnect(): Promise<void> {
    this.#closedByUser = true;
    this.#keeper?.abort();
    this.#keeper = undefined;
    const ch = this.#channel;
    this.#channel = undefined;
    const closing = ch
      ? ch.close(
        new DisconnectedError(`disconnected by the client from ${ch.conn.remote}`),
        Math.min(1, this.#opts.connectTimeout) * 1000,
      )
      : undefined;
    const err = new DisconnectedError("disconnected by the client");
    for (const [state, list] of this.#waiters) {
      this.#waiters.delete(state);
      for (const w of [...list]) w.reject(err);
    }
    this.#setStatus("closed");
    if (closing) await closing;
    this.#kernel.deadlines.release();
    this.#kernel.reporter.flush();
  }

  /** `await using` support. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.disconnect();
  }

  // ---------------------------------------------------------------- internals

  async #track<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      this.error = e instanceof Error ? e.message : String(e);
      throw e;
    }
  }

  #setStatus(s: ClientStatus): void {
    if (this.#status === s) return;
    this.#status = s;
    for (const h of [...this.#statusHandlers]) {
      try {
        h(s);
      } catch (e) {
        this.#kernel.reporter.report(new IkcError(`status handler threw: ${errText(e)}`, { cause: e }));
      }
    }
  }

  #wait(state: string, seconds: number, signal: AbortSignal | undefined): Promise<IkcMessage> {
    return new Promise<IkcMessage>((resolve, reject) => {
      const list = this.#waiters.get(state) ?? [];
      this.#waiters.set(state, list);
      let onAbort: (() => void) | undefined;
      const remove = () => {
        timer.cancel();
        if (signal && onAbort) signal.removeEventListener("abort", onAbort);
        const l = this.#waiters.get(state);
        if (!l) return;
        const i = l.indexOf(waiter);
        if (i >= 0) l.splice(i, 1);
        if (l.length === 0) this.#waiters.delete(state);
      };
      const waiter: Waiter = {
        resolve: (m) => {
          remove();
          resolve(m);
        },
        reject: (e) => {
          remove();
          reject(e);
        },
      };
      list.push(waiter);
      const timer: Deadline = this.#kernel.deadlines.add(
        seconds * 1000,
        () => waiter.reject(new TimeoutError(`responded(${state}): no message arrived within ${seconds} s`)),
      );
      if (signal) {
        onAbort = () => waiter.reject(new AbortError(`responded(${state}): aborted`, { cause: signal.reason }));
        if (signal.aborted) queueMicrotask(onAbort);
        else signal.addEventListener("abort", onAbort, { once: true });
      }
    });
  }

  /**
   * Opens a request and sends it. The per-call path is kept free of async wrappers and per-call
   * timers: one shared deadline timer serves every request, and a frame goes out synchronously
   * when connected.
   */
  #request(
    kind: RequestKind,
    spec: Target,
    rsvp: Address & { state: string },
    list: boolean,
    options: RequestOptions,
    build: Build,
  ): Promise<PerlValue> {
    const seconds = options.timeout ?? this.#opts.timeout;
    const name = typeof spec === "string" ? spec : `${spec.session}/${spec.state}`;
    try {
      if (typeof spec === "string") this.#kernel.spec(spec);
      checkSeconds(seconds);
    } catch (e) {
      this.error = errText(e);
      return Promise.reject(e);
    }
    const { entry, promise } = this.#kernel.requests.open({
      kind,
      spec: name,
      key: `${rsvp.session}/${rsvp.state}`,
      list,
      seconds,
      signal: options.signal,
    });
    const ch = this.#channel;
    if (ch !== undefined && ch.alive && !ch.full) this.#sendNow(ch, build, entry);
    else this.#sendWithRetry(build, entry).catch((e) => entry.reject(asError(e)));
    return promise.catch((e) => {
      this.error = errText(e);
      throw e;
    });
  }

  /** The connected fast path: freeze and queue the frame now; a failed write goes to #retry. */
  #sendNow(ch: Channel, build: Build, entry: PendingRequest): void {
    let message: Record<string, PerlValue>;
    try {
      message = build(ch);
      entry.channel = ch;
      ch.send(message, (err) => {
        if (err) this.#retry(err, ch, build, entry).catch((e) => entry.reject(asError(e)));
      });
    } catch (e) {
      entry.reject(asError(e));
    }
  }

  /** A write failed: reconnect once and resend once (ClientLite's behaviour), or fail the request. */
  async #retry(e: Error, ch: Channel, build: Build, entry?: Job): Promise<void> {
    if (entry?.settled) return;
    if (!this.#opts.reconnect || !isConnectionFailure(e) || this.#closedByUser) throw e;
    this.#lost(ch, e, true, entry);
    const next = await this.#ensureChannel();
    while (next.full && next.alive && !entry?.settled) await next.room();
    if (entry?.settled) return; // timed out or aborted meanwhile: never resent
    if (entry) entry.channel = next;
    await next.write(build(next));
  }

  /** Connects if needed, then freezes and writes; on a failed write reconnects once and resends once. */
  async #sendWithRetry(build: Build, entry: Job): Promise<void> {
    const ch = await this.#ensureChannel();
    // Woken waiters re-check: the first to write may fill the buffer again.
    while (ch.full && ch.alive && !entry.settled) await ch.room();
    if (entry.settled) return;
    entry.channel = ch;
    try {
      await ch.write(build(ch));
    } catch (e) {
      await this.#retry(asError(e), ch, build, entry);
    }
  }

  #ensureChannel(): Promise<Channel> {
    if (this.#channel?.alive) return Promise.resolve(this.#channel);
    if (!this.#connecting) {
      this.#connecting = this.#connectOnce().finally(() => {
        this.#connecting = undefined;
      });
    }
    return this.#connecting;
  }

  #where(): string {
    return this.#opts.path ?? `${this.#opts.host}:${this.#opts.port}`;
  }

  async #connectOnce(): Promise<Channel> {
    const o = this.#opts;
    const seconds = o.connectTimeout;
    const where = this.#where();
    if (this.#status !== "reconnecting") this.#setStatus("connecting");
    const signal = AbortSignal.timeout(seconds * 1000);
    let conn: Connection;
    try {
      conn = await this.#transport.connect({
        host: o.host,
        port: o.port,
        path: o.path,
        blockSize: o.blockSize,
        tls: o.tls,
        signal,
      });
    } catch (e) {
      if (this.#status === "connecting") this.#setStatus("idle");
      if (signal.aborted) {
        throw new ConnectError(`connect to ${where}: no connection within ${seconds} s`, { cause: e });
      }
      throw e instanceof ConnectError || e instanceof UnsupportedRuntimeError
        ? e
        : new ConnectError(`connect to ${where}: ${errText(e)}`, { cause: e });
    }
    try {
      const machine = new ClientNegotiation({
        name: this.name,
        aliases: o.aliases,
        freezers: this.#freezers.map((f) => f.name),
        pid: processId(),
        protocol: o.protocol,
      });
      const { result: info, rest } = await negotiate(conn, machine, {
        seconds,
        maxLineLength: o.maxLineLength,
        peer: where,
      });
      const freezer = this.#freezers.find((f) => f.name === info.freezer)!;
      const ch = new Channel(
        conn,
        freezer,
        info,
        { maxFrameSize: o.maxFrameSize, maxWriteBuffer: o.maxWriteBuffer },
        "client",
      );
      this.#info = info;
      this.#channel = ch;
      this.#kernel.attach(ch);
      ch.start(rest, {
        message: (v, c) => this.#kernel.receive(v, c),
        end: (reason, c) => this.#lost(c, reason, false),
      });
      this.#setStatus("connected");
      return ch;
    } catch (e) {
      await conn.close().catch(() => {});
      if (this.#status === "connecting") this.#setStatus("idle");
      if (e instanceof ConnectError) throw e;
      throw new ConnectError(`negotiation with ${where} failed: ${errText(e)}`, { cause: e });
    }
  }

  /** A connection ended: pending requests on it fail with the reason; nothing is dropped quietly. */
  #lost(ch: Channel, reason: Error, retrying: boolean, keep?: Job): void {
    if (this.#lostChannels.has(ch)) return;
    this.#lostChannels.add(ch);
    if (this.#channel === ch) this.#channel = undefined;
    if (!this.#closedByUser) ch.abort(reason); // ends it (once) and lets go of the socket
    const before = this.#kernel.requests.size;
    this.#kernel.detach(ch, ch.reason ?? reason, keep as PendingRequest | undefined);
    const failed = before - this.#kernel.requests.size;
    // No connection left to hold the process: an idle deadline timer must not either.
    this.#kernel.deadlines.release();
    if (this.#closedByUser) return;
    this.error = (ch.reason ?? reason).message;
    if (failed === 0 && !retrying && !(reason instanceof DisconnectedError)) this.#kernel.reporter.report(reason);
    if (!retrying && (this.#opts.keepAlive ?? this.#kernel.hasPublished())) this.#keepUp();
    else if (!retrying) this.#setStatus("idle");
    // Waiters for server-initiated messages are kept: the next connection may deliver them.
  }

  /** Reconnects with exponential backoff and jitter until connected or `disconnect()`. */
  #keepUp(): void {
    if (this.#keeper) return;
    const keeper = this.#keeper = new AbortController();
    this.#setStatus("reconnecting");
    void (async () => {
      for (let attempt = 0; !keeper.signal.aborted; attempt++) {
        const base = Math.min(30_000, 100 * 2 ** Math.min(attempt, 9));
        await delay(base * (0.5 + Math.random()), keeper.signal);
        if (keeper.signal.aborted || this.#closedByUser) break;
        try {
          await this.#ensureChannel();
          break;
        } catch (e) {
          this.error = errText(e);
        }
      }
      if (this.#keeper === keeper) this.#keeper = undefined;
    })();
  }

  /** Messages to states we neither published nor wait on: ClientLite's inbox, for `responded`. */
  #unsolicited(m: Message): boolean {
    if (m.rsvp && m.target.session !== RSVP_SESSION) return false; // a call to something we lack: remote_error
    const message: IkcMessage = { state: m.target.state, session: m.target.session, params: m.params, raw: m.raw };
    const waiters = this.#waiters.get(message.state);
    const handlers = this.#handlers.get(message.state);
    // Decided before resolving: a resolved waiter removes itself from the list.
    const waited = waiters !== undefined && waiters.length > 0;
    if (waited) waiters[0].resolve(message);
    if (handlers) {
      for (const h of [...handlers]) this.#callHandler(h, message);
    }
    if (!waited && !handlers) this.#enqueue(message);
    return true;
  }

  #enqueue(message: IkcMessage): void {
    if (this.#inboxSize >= this.#opts.inboxLimit) {
      // Drop the oldest, loudly (in bounded form: a flood is one report and a count).
      for (const [state, list] of this.#inbox) {
        const old = list.shift()!;
        this.#inboxSize--;
        if (list.length === 0) this.#inbox.delete(state);
        this.#kernel.reporter.report(
          new IkcError(
            `inbox full (${this.#opts.inboxLimit}): dropped a message for state ${old.state}; register a handler with on()`,
          ),
          "inbox-full",
        );
        break;
      }
    }
    let list = this.#inbox.get(message.state);
    if (!list) this.#inbox.set(message.state, list = []);
    list.push(message);
    this.#inboxSize++;
  }

  #callHandler(h: MessageHandler, m: IkcMessage): void {
    try {
      h(m.params, m);
    } catch (e) {
      this.#kernel.reporter.report(new IkcError(`handler for state ${m.state} threw: ${errText(e)}`, { cause: e }));
    }
  }
}

function isConnectionFailure(e: unknown): boolean {
  return e instanceof DisconnectedError ||
    (e instanceof Error && !(e instanceof IkcError) && !(e instanceof TypeError));
}

function asError(e: unknown): Error {
  return e instanceof Error ? e : new IkcError(String(e));
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
