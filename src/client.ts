/**
 * The IKC client: a port of Perl's POE::Component::IKC::ClientLite with an async API.
 * Many requests may be in flight on one connection; each is matched to its own answer.
 *
 * @module
 */
import {
  AbortError,
  ConnectError,
  DisconnectedError,
  IkcError,
  ProtocolError,
  RemoteError,
  TimeoutError,
} from "./core/errors.ts";
import type { Freezer } from "./core/freezer.ts";
import { resolveFreezers } from "./core/freezers.ts";
import { encodeFrame, FrameReader, LineReader } from "./core/frame.ts";
import { ClientNegotiation, isValidKernelName, type NegotiationResult } from "./core/negotiation.ts";
import type { PerlValue } from "./core/perl.ts";
import { parseSpecifier, qualifySpecifier, toSpecifier } from "./core/specifier.ts";
import { detectTransport, transportFor } from "./transport/detect.ts";
import type { Connection, Transport } from "./transport/types.ts";
import { processId } from "./runtime.ts";

/**
 * Options for {@link IkcClient}. Times are in seconds, as in Perl's ClientLite.
 *
 * @example
 * ```ts
 * import type { IkcClientOptions } from "./client.ts";
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
  /** Seconds each connect/negotiation phase may take (default: `timeout`). */
  connectTimeout?: number;
  /** Freezer package name(s) or Freezer objects to offer, preferred first (default `Storable`). */
  serializer?: string | Freezer | ReadonlyArray<string | Freezer>;
  /** Largest read from the socket in bytes (default 65535). */
  blockSize?: number;
  /** `IKC0` (default; falls back to `IKC` when refused) or `IKC`. */
  protocol?: "IKC0" | "IKC";
  /** Transport to use: a Transport object or a runtime name (default: detected). */
  transport?: Transport | "deno" | "bun" | "node";
  /** Largest frame accepted from the server in bytes (default 64 MiB). */
  maxFrameSize?: number;
  /** Reconnect and resend once when a send fails, as ClientLite does (default true). */
  reconnect?: boolean;
  /** Messages kept for states nobody listens to yet, for a later `responded` (default 1000). */
  inboxLimit?: number;
}

/**
 * Per-request options.
 *
 * @example
 * ```ts
 * import type { RequestOptions } from "./client.ts";
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
 * import type { CallOptions } from "./client.ts";
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
 * import type { IkcMessage } from "./client.ts";
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
 * import type { MessageHandler } from "./client.ts";
 * const log: MessageHandler = (params, message) => console.log(message.state, params);
 * ```
 */
export type MessageHandler = (params: PerlValue, message: IkcMessage) => void;

const SESSION = "IKCLite";

interface Pending {
  kind: "call" | "postRespond" | "ping";
  spec: string;
  /** rsvp state we wait for (responseN), or "pong" for pings. */
  state: string;
  list: boolean;
  session: Session | undefined;
  /** When it times out, in now() milliseconds. */
  deadline: number;
  seconds: number;
  settled: boolean;
  resolve(v: PerlValue): void;
  reject(e: Error): void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
}

interface Waiter {
  resolve(m: IkcMessage): void;
  reject(e: Error): void;
  cleanup(): void;
}

class Session {
  readonly conn: Connection;
  readonly freezer: Freezer;
  readonly info: NegotiationResult;
  readonly reader: FrameReader;
  alive = true;
  lostReason: Error | undefined;
  /** Settles once the read loop has returned (the runtime has let go of the socket). */
  readDone: Promise<void> = Promise.resolve();
  #queue: Uint8Array[] = [];
  #waiters: Array<(err?: Error) => void> = [];
  #flushing = false;

  constructor(conn: Connection, freezer: Freezer, info: NegotiationResult, reader: FrameReader) {
    this.conn = conn;
    this.freezer = freezer;
    this.info = info;
    this.reader = reader;
  }

  /** Queues a frame; frames queued while a write is under way go out together in one write. */
  write(frame: Uint8Array): Promise<void> {
    if (!this.alive) return Promise.reject(this.lostReason ?? new DisconnectedError("connection closed"));
    return new Promise((resolve, reject) => this.send(frame, (err) => (err ? reject(err) : resolve())));
  }

  /** Like write, with a callback instead of a promise (called with the error on failure). */
  send(frame: Uint8Array, done: (err?: Error) => void): void {
    if (!this.alive) {
      done(this.lostReason ?? new DisconnectedError("connection closed"));
      return;
    }
    this.#queue.push(frame);
    this.#waiters.push(done);
    if (!this.#flushing) void this.#flush();
  }

  async #flush(): Promise<void> {
    this.#flushing = true;
    while (this.#queue.length > 0) {
      const frames = this.#queue;
      const waiters = this.#waiters;
      this.#queue = [];
      this.#waiters = [];
      let data: Uint8Array;
      if (frames.length === 1) {
        data = frames[0];
      } else {
        let total = 0;
        for (const f of frames) total += f.length;
        data = new Uint8Array(total);
        let at = 0;
        for (const f of frames) {
          data.set(f, at);
          at += f.length;
        }
      }
      try {
        await this.conn.write(data);
        for (const w of waiters) w();
      } catch (e) {
        const err = e instanceof Error ? e : new DisconnectedError(String(e));
        for (const w of waiters) w(err);
      }
    }
    this.#flushing = false;
  }
}

/**
 * An IKC client connection to a POE kernel running POE::Component::IKC::Server.
 *
 * @example
 * ```ts
 * import { IkcClient } from "./client.ts";
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

  #opts: Required<Omit<IkcClientOptions, "path" | "transport" | "serializer" | "aliases">> & {
    path?: string;
    aliases: string[];
  };
  #freezers: Freezer[];
  #transport: Transport;
  #session: Session | undefined;
  #connecting: Promise<Session> | undefined;
  #info: NegotiationResult | undefined;
  #seq = 1;
  #pending = new Map<string, Pending>();
  #pings: Pending[] = [];
  #handlers = new Map<string, Set<MessageHandler>>();
  #waiters = new Map<string, Waiter[]>();
  #inbox = new Map<string, IkcMessage[]>();
  #inboxSize = 0;
  #errorHandlers = new Set<(e: Error) => void>();
  #closedByUser = false;
  /** Requests under the shared deadline timer. */
  #timed = new Set<Pending>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #timerAt = Infinity;

  /**
   * Creates a client without connecting; the first request (or {@link IkcClient.open}) connects.
   *
   * @example
   * ```ts
   * import { IkcClient } from "./client.ts";
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
      name: this.name,
      aliases: options.aliases ?? [],
      timeout,
      connectTimeout: options.connectTimeout ?? timeout,
      blockSize: options.blockSize ?? 65535,
      protocol: options.protocol ?? "IKC0",
      maxFrameSize: options.maxFrameSize ?? 64 * 1024 * 1024,
      reconnect: options.reconnect ?? true,
      inboxLimit: options.inboxLimit ?? 1000,
    };
    if (!(timeout > 0)) throw new TypeError("timeout must be a positive number of seconds");
    if (!(this.#opts.connectTimeout > 0)) throw new TypeError("connectTimeout must be a positive number of seconds");
    if (!(this.#opts.blockSize >= 1)) throw new TypeError("blockSize must be at least 1");
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
  }

  /**
   * Creates a client and connects it (ClientLite's `spawn`/`create_ikc_client`).
   * Rejects with a ConnectError when the server cannot be reached or negotiation fails.
   *
   * @example
   * ```ts
   * import { IkcClient } from "./client.ts";
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
    return this.#session?.alive === true;
  }

  /** Number of requests waiting for an answer. */
  get pendingCount(): number {
    return this.#pending.size + this.#pings.length;
  }

  /**
   * Connects (or reconnects) now. Resolves once negotiation is done.
   *
   * @example
   * ```ts
   * import { IkcClient } from "./client.ts";
   * const ikc = new IkcClient({ port: 6030 });
   * await ikc.open();
   * console.log(ikc.remoteKernel);
   * ```
   */
  async open(): Promise<void> {
    this.#closedByUser = false;
    await this.#ensureSession();
  }

  /**
   * Sends an event and resolves once it is written to the socket (no answer is expected).
   * A bare `session/state` is sent to the connected kernel.
   *
   * @example
   * ```ts
   * import { IkcClient } from "./client.ts";
   * const ikc = await IkcClient.connect({ port: 6030 });
   * await ikc.post("log/write", "hello");
   * ```
   */
  async post(spec: string, params?: PerlValue): Promise<void> {
    await this.#track(async () => {
      await this.#sendWithRetry((remote) => ({
        event: qualifySpecifier(spec, remote),
        params: params ?? null,
        from: { kernel: this.name, session: SESSION },
      }));
    });
  }

  /**
   * Calls a remote state and resolves with its return value. In `list` context the result is an
   * array of every value the state returned. A state that returns undef (or an empty list) makes
   * Perl send no answer at all: the call then rejects with a TimeoutError saying so.
   *
   * @example
   * ```ts
   * import { IkcClient } from "./client.ts";
   * const ikc = await IkcClient.connect({ port: 6030 });
   * const n = await ikc.call("calc/add", [1, 2]);
   * const all = await ikc.call("calc/split", "a,b", { context: "list" });
   * ```
   */
  call(spec: string, params?: PerlValue, options: CallOptions = {}): Promise<PerlValue> {
    const list = options.context === "list";
    if (options.context !== undefined && options.context !== "list" && options.context !== "scalar") {
      return Promise.reject(new TypeError(`context must be "scalar" or "list", not ${options.context}`));
    }
    const state = `response${this.#seq++}`;
    return this.#request("call", spec, state, list, options, (remote) => ({
      event: qualifySpecifier(spec, remote),
      params: params ?? null,
      from: { kernel: this.name, session: SESSION },
      rsvp: { kernel: this.name, session: SESSION, state },
      wantarray: list ? 1 : 0,
    }));
  }

  /**
   * Posts an event whose params are `[params, rsvp]`; the remote state answers whenever it likes by
   * posting to that rsvp. Resolves with the answer's params.
   *
   * @example
   * ```ts
   * import { IkcClient } from "./client.ts";
   * const ikc = await IkcClient.connect({ port: 6030 });
   * const result = await ikc.postRespond("jobs/run", { job: 7 }, { timeout: 60 });
   * ```
   */
  postRespond(spec: string, params?: PerlValue, options: RequestOptions = {}): Promise<PerlValue> {
    const state = `response${this.#seq++}`;
    return this.#request("postRespond", spec, state, false, options, (remote) => ({
      event: qualifySpecifier(spec, remote),
      params: [params ?? null, { kernel: this.name, session: SESSION, state }],
      from: { kernel: this.name, session: SESSION },
    }));
  }

  /**
   * Waits for the next message the server sends to our state `state` (ClientLite's `responded`).
   * Messages that arrived earlier with nobody listening are kept and returned first.
   *
   * @example
   * ```ts
   * import { IkcClient } from "./client.ts";
   * const ikc = await IkcClient.connect({ port: 6030 });
   * await ikc.post("feed/subscribe", { state: "tick" });
   * const first = await ikc.responded("tick");
   * ```
   */
  async responded(state: string, options: RequestOptions = {}): Promise<PerlValue> {
    const msg = await this.nextMessage(state, options);
    return msg.params;
  }

  /**
   * Like {@link IkcClient.responded} but resolves with the whole message.
   *
   * @example
   * ```ts
   * import { IkcClient } from "./client.ts";
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
    return this.#track(async () => {
      if (!this.#session?.alive) await this.#ensureSession();
      return await new Promise<IkcMessage>((resolve, reject) => {
        const list = this.#waiters.get(state) ?? [];
        this.#waiters.set(state, list);
        const waiter: Waiter = {
          resolve: (m) => {
            waiter.cleanup();
            resolve(m);
          },
          reject: (e) => {
            waiter.cleanup();
            reject(e);
          },
          cleanup: () => {},
        };
        waiter.cleanup = this.#guard(options, `responded(${state})`, waiter.reject, () => {
          const l = this.#waiters.get(state);
          if (l) {
            const i = l.indexOf(waiter);
            if (i >= 0) l.splice(i, 1);
            if (l.length === 0) this.#waiters.delete(state);
          }
        }, "no message arrived");
        list.push(waiter);
      });
    });
  }

  /**
   * Checks the remote kernel answers: calls `IKC/ping` and resolves true on `PONG`.
   *
   * @example
   * ```ts
   * import { IkcClient } from "./client.ts";
   * const ikc = await IkcClient.connect({ port: 6030 });
   * console.log(await ikc.ping()); // true
   * ```
   */
  async ping(options: RequestOptions = {}): Promise<boolean> {
    const answer = await this.#request("ping", "IKC/ping", "pong", false, options, (remote) => ({
      event: qualifySpecifier("IKC/ping", remote),
      params: "PING",
      from: { kernel: this.name, session: SESSION },
      rsvp: { kernel: this.name, session: "IKC", state: "pong" },
      wantarray: 0,
    }));
    if (answer !== "PONG") {
      const e = new ProtocolError(`ping answered ${JSON.stringify(answer)} instead of PONG`);
      this.error = e.message;
      throw e;
    }
    return true;
  }

  /**
   * Registers a handler for messages the server sends on its own to our state `state`.
   * Returns a function that removes it.
   *
   * @example
   * ```ts
   * import { IkcClient } from "./client.ts";
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
   * connection lost with nothing pending, a message that could not be delivered.
   * Returns a function that removes it. Without any handler such errors go to `console.warn`.
   *
   * @example
   * ```ts
   * import { IkcClient } from "./client.ts";
   * const ikc = await IkcClient.connect({ port: 6030 });
   * ikc.onError((e) => console.error("ikc:", e.message));
   * ```
   */
  onError(handler: (error: Error) => void): () => void {
    this.#errorHandlers.add(handler);
    return () => this.#errorHandlers.delete(handler);
  }

  /**
   * Closes the connection. Pending requests reject with a DisconnectedError. A later request
   * connects again.
   *
   * @example
   * ```ts
   * import { IkcClient } from "./client.ts";
   * const ikc = await IkcClient.connect({ port: 6030 });
   * await ikc.disconnect();
   * ```
   */
  async disconnect(): Promise<void> {
    this.#closedByUser = true;
    const s = this.#session;
    this.#session = undefined;
    if (s) {
      this.#lost(s, new DisconnectedError(`disconnected by the client from ${s.conn.remote}`), false, undefined, true);
    }
    const err = new DisconnectedError("disconnected by the client");
    for (const [state, list] of this.#waiters) {
      this.#waiters.delete(state);
      for (const w of list) w.reject(err);
    }
    if (this.#timed.size === 0) this.#stopTimer();
    if (s) await this.#closeGracefully(s);
  }

  /** `await using` support. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.disconnect();
  }

  // ---------------------------------------------------------------- internals

  /**
   * Sends what is queued, half-closes, and waits (a little) for the server to close its side before
   * closing ours. A genuine IKC server unregisters our kernel name only when it sees the close; a
   * reconnect that overtook it would meet "Remote kernel 'X' already exists" and its answers would
   * go to the dead connection.
   */
  async #closeGracefully(s: Session): Promise<void> {
    if (s.conn.closeWrite) {
      try {
        await s.conn.closeWrite();
        let timer: ReturnType<typeof setTimeout> | undefined;
        const limit = Math.min(1, this.#opts.connectTimeout) * 1000;
        await Promise.race([s.readDone, new Promise<void>((r) => (timer = setTimeout(r, limit)))]);
        clearTimeout(timer);
      } catch {
        // closing anyway
      }
    }
    await s.conn.close();
    await s.readDone;
  }

  async #track<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      this.error = e instanceof Error ? e.message : String(e);
      throw e;
    }
  }

  /** Sets up timeout and abort handling; returns the cleanup function. */
  #guard(
    options: RequestOptions,
    what: string,
    reject: (e: Error) => void,
    remove: () => void,
    silence: string,
  ): () => void {
    const seconds = options.timeout ?? this.#opts.timeout;
    if (!(seconds > 0)) throw new TypeError("timeout must be a positive number of seconds");
    const timer = setTimeout(() => {
      remove();
      reject(new TimeoutError(`${what}: ${silence} within ${seconds} s`));
    }, seconds * 1000);
    const signal = options.signal;
    let onAbort: (() => void) | undefined;
    if (signal) {
      onAbort = () => {
        remove();
        reject(new AbortError(`${what}: aborted`, { cause: signal.reason }));
      };
      if (signal.aborted) queueMicrotask(onAbort);
      else signal.addEventListener("abort", onAbort, { once: true });
    }
    return () => {
      clearTimeout(timer);
      if (signal && onAbort) signal.removeEventListener("abort", onAbort);
      remove();
    };
  }

  #request(
    kind: Pending["kind"],
    spec: string,
    state: string,
    list: boolean,
    options: RequestOptions,
    build: (remote: string) => Record<string, PerlValue>,
  ): Promise<PerlValue> {
    // The per-call path is kept free of async wrappers and per-call timers: one shared deadline
    // timer serves every request (see #arm), and a frame goes out synchronously when connected.
    const seconds = options.timeout ?? this.#opts.timeout;
    try {
      parseSpecifier(spec);
      if (!(seconds > 0)) throw new TypeError("timeout must be a positive number of seconds");
    } catch (e) {
      this.error = errText(e);
      return Promise.reject(e);
    }
    return new Promise<PerlValue>((resolve, reject) => {
      const entry: Pending = {
        kind,
        spec,
        state,
        list,
        session: undefined,
        deadline: now() + seconds * 1000,
        seconds,
        settled: false,
        resolve: (v) => {
          if (entry.settled) return;
          this.#settle(entry);
          resolve(v);
        },
        reject: (e) => {
          if (entry.settled) return;
          this.#settle(entry);
          this.error = e.message;
          reject(e);
        },
        signal: options.signal,
        onAbort: undefined,
      };
      const signal = options.signal;
      if (signal) {
        const onAbort = () => entry.reject(new AbortError(`${kind} ${spec}: aborted`, { cause: signal.reason }));
        entry.onAbort = onAbort;
        if (signal.aborted) queueMicrotask(onAbort);
        else signal.addEventListener("abort", onAbort, { once: true });
      }
      if (kind === "ping") this.#pings.push(entry);
      else this.#pending.set(state, entry);
      this.#arm(entry);
      const s = this.#session;
      if (s !== undefined && s.alive) this.#sendNow(s, build, entry);
      else this.#sendWithRetry(build, entry).catch((e) => entry.reject(e));
    });
  }

  /** Removes a settled request from every table and drops its abort listener. */
  #settle(entry: Pending): void {
    entry.settled = true;
    this.#timed.delete(entry);
    if (entry.signal && entry.onAbort) entry.signal.removeEventListener("abort", entry.onAbort);
    if (entry.kind === "ping") {
      const i = this.#pings.indexOf(entry);
      if (i >= 0) this.#pings.splice(i, 1);
    } else if (this.#pending.get(entry.state) === entry) {
      this.#pending.delete(entry.state);
    }
  }

  /**
   * Puts a request under the shared deadline timer. The timer is re-armed only when this deadline
   * is earlier than the one it waits for, so back-to-back calls with the same timeout cost no timer
   * operation at all; when it fires it expires what is due and re-arms for the earliest remaining.
   */
  #arm(entry: Pending): void {
    this.#timed.add(entry);
    if (entry.deadline < this.#timerAt) this.#startTimer(entry.deadline);
  }

  #startTimer(at: number): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(this.#sweep, Math.max(1, Math.ceil(at - now())));
  }

  #stopTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
  }

  #sweep = (): void => {
    this.#timer = undefined;
    this.#timerAt = Infinity;
    const t = now();
    let next = Infinity;
    const due: Pending[] = [];
    for (const e of this.#timed) {
      if (e.deadline <= t) due.push(e);
      else if (e.deadline < next) next = e.deadline;
    }
    for (const e of due) {
      const silence = e.kind === "call"
        ? "no answer (a Perl state that returns undef, or an empty list in list context, sends none)"
        : "no answer";
      e.reject(new TimeoutError(`${e.kind} ${e.spec}: ${silence} within ${e.seconds} s`));
    }
    if (next < Infinity && this.#timer === undefined) this.#startTimer(next);
  };

  /** The connected fast path: freeze and queue the frame now; a failed write goes to #retry. */
  #sendNow(session: Session, build: (remote: string) => Record<string, PerlValue>, entry: Pending): void {
    let frame: Uint8Array;
    try {
      frame = frameFor(session, build);
    } catch (e) {
      entry.reject(e instanceof Error ? e : new IkcError(String(e)));
      return;
    }
    entry.session = session;
    session.send(frame, (err) => {
      if (err) this.#retry(err, session, build, entry).catch((e) => entry.reject(e));
    });
  }

  /** A write failed: reconnect once and resend once (ClientLite's behaviour), or fail the request. */
  async #retry(e: Error, session: Session, build: (remote: string) => Record<string, PerlValue>, entry?: Pending) {
    if (entry?.settled) return;
    if (!this.#opts.reconnect || !isConnectionFailure(e) || this.#closedByUser) throw e;
    this.#lost(session, e, true, entry);
    const next = await this.#ensureSession();
    await this.#write(next, build, entry);
  }

  /** Freezes and writes a message; on a failed write reconnects once and resends once. */
  async #sendWithRetry(build: (remote: string) => Record<string, PerlValue>, entry?: Pending): Promise<void> {
    const session = await this.#ensureSession();
    if (entry?.settled) return;
    try {
      await this.#write(session, build, entry);
    } catch (e) {
      await this.#retry(e instanceof Error ? e : new DisconnectedError(String(e)), session, build, entry);
    }
  }

  async #write(session: Session, build: (remote: string) => Record<string, PerlValue>, entry?: Pending) {
    const frame = frameFor(session, build);
    if (entry) entry.session = session;
    await session.write(frame);
  }

  #ensureSession(): Promise<Session> {
    if (this.#session?.alive) return Promise.resolve(this.#session);
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

  async #connectOnce(): Promise<Session> {
    const o = this.#opts;
    const seconds = o.connectTimeout;
    const where = this.#where();
    const ac = new AbortController();
    let timer = setTimeout(() => ac.abort(), seconds * 1000);
    let conn: Connection;
    try {
      conn = await this.#transport.connect({
        host: o.host,
        port: o.port,
        path: o.path,
        blockSize: o.blockSize,
        signal: ac.signal,
      });
    } catch (e) {
      clearTimeout(timer);
      if (ac.signal.aborted) {
        throw new ConnectError(`connect to ${where}: no connection within ${seconds} s`, { cause: e });
      }
      throw e instanceof ConnectError ? e : new ConnectError(`connect to ${where}: ${errText(e)}`, { cause: e });
    }
    clearTimeout(timer);
    try {
      const neg = new ClientNegotiation({
        name: this.name,
        aliases: o.aliases,
        freezers: this.#freezers.map((f) => f.name),
        pid: processId(),
        protocol: o.protocol,
      });
      const lines = new LineReader();
      const send = (ls: string[]) => ls.length ? conn.write(latin1(ls.map((l) => `${l}\r\n`).join(""))) : undefined;
      await send(neg.start());
      while (!neg.done) {
        let line = lines.nextLine();
        while (line === undefined) {
          const chunk = await withTimeout(conn.read(), seconds, () =>
            new ConnectError(`negotiation with ${where} (${neg.phase}): no answer within ${seconds} s`));
          if (chunk === null) {
            throw new ConnectError(`negotiation with ${where} (${neg.phase}): server closed the connection`);
          }
          lines.push(chunk);
          line = lines.nextLine();
        }
        await send(neg.receive(line));
        if (neg.failure) throw neg.failure;
      }
      const info = neg.result!;
      const freezer = this.#freezers.find((f) => f.name === info.freezer)!;
      const reader = new FrameReader({ maxFrameSize: o.maxFrameSize });
      const session = new Session(conn, freezer, info, reader);
      this.#info = info;
      this.#session = session;
      const rest = lines.takeRest();
      session.readDone = this.#readLoop(session, rest);
      return session;
    } catch (e) {
      await conn.close().catch(() => {});
      if (e instanceof ConnectError) throw e;
      throw new ConnectError(`negotiation with ${where} failed: ${errText(e)}`, { cause: e });
    } finally {
      clearTimeout(timer);
      timer = undefined as never;
    }
  }

  async #readLoop(session: Session, first: Uint8Array): Promise<void> {
    try {
      if (first.length > 0) this.#consume(session, first);
      for (;;) {
        const chunk = await session.conn.read();
        if (chunk === null) break;
        if (!session.alive) continue; // closing: drain until the server's EOF
        this.#consume(session, chunk);
      }
      this.#lost(session, new DisconnectedError(`connection to ${session.conn.remote} closed by the server`), false);
    } catch (e) {
      this.#lost(session, e instanceof Error ? e : new DisconnectedError(String(e)), false);
      await session.conn.close().catch(() => {});
    }
  }

  #consume(session: Session, chunk: Uint8Array): void {
    const frames = session.reader.push(chunk);
    for (let i = 0; i < frames.length; i++) {
      const msg = session.freezer.thaw(frames[i]);
      this.#dispatch(msg);
    }
  }

  /** A connection ended: pending requests on it fail with the reason; nothing is dropped quietly. */
  #lost(session: Session, reason: Error, retrying: boolean, except?: Pending, keepOpen = false): void {
    if (!session.alive) return;
    session.alive = false;
    session.lostReason = reason;
    if (this.#session === session) this.#session = undefined;
    if (!keepOpen) void session.conn.close().catch(() => {});
    const why = reason instanceof DisconnectedError
      ? reason
      : new DisconnectedError(`connection to ${session.conn.remote} lost: ${reason.message}`, { cause: reason });
    const failed = [...this.#pending.values(), ...this.#pings].filter((p) => p.session === session && p !== except);
    for (const p of failed) p.reject(reason instanceof IkcError && !(reason instanceof DisconnectedError) ? reason : why);
    if (failed.length === 0 && !retrying && !this.#closedByUser && !(reason instanceof DisconnectedError)) {
      this.#report(reason);
    }
    if (!this.#closedByUser) this.error = reason.message;
    if (this.#timed.size === 0) this.#stopTimer();
    // Waiters for server-initiated messages are kept: the next connection may deliver them.
  }

  #dispatch(msg: PerlValue): void {
    if (msg === null || typeof msg !== "object" || Array.isArray(msg) || msg instanceof Uint8Array) {
      this.#report(new ProtocolError(`server sent a message that is not a hash: ${describe(msg)}`));
      return;
    }
    const m = msg as Record<string, PerlValue>;
    const spec = toSpecifier(m.event);
    if (!spec) {
      this.#report(new ProtocolError(`server sent a message without a valid event: ${describe(m.event)}`));
      return;
    }
    const { session, state } = spec;
    if (session === "IKC" && state === "remote_error") return this.#remoteError(m);
    if (session === "IKC" && state === "pong") {
      const p = this.#pings.shift();
      if (p) p.resolve(m.params ?? null);
      else this.#report(new ProtocolError("server sent a pong nobody waited for"));
      return;
    }
    const pending = this.#pending.get(state);
    if (pending && session === SESSION) {
      this.#pending.delete(state);
      if (isTrue(m.is_error)) {
        pending.reject(remoteErrorFrom(m.params));
      } else if (pending.list) {
        pending.resolve(Array.isArray(m.params) ? m.params : m.params === null ? [] : [m.params]);
      } else {
        pending.resolve(m.params ?? null);
      }
      return;
    }
    this.#deliver({ state, session, params: m.params ?? null, raw: m });
  }

  #remoteError(m: Record<string, PerlValue>): void {
    const err = remoteErrorFrom(m.params);
    this.error = err.message;
    // The message names the request: "... Request poe://K/sess/state sent by poe://C/IKCLite".
    const named = /Request\s+(\S+)\s+sent by/.exec(err.remoteMessage)?.[1];
    if (named) {
      const target = toSpecifier(named);
      const matches = (p: Pending) => {
        const s = toSpecifier(p.spec);
        return s !== undefined && target !== undefined && s.session === target.session && s.state === target.state;
      };
      for (const p of this.#pending.values()) {
        if (matches(p)) {
          this.#pending.delete(p.state);
          p.reject(err);
          return;
        }
      }
      const pi = this.#pings.findIndex(matches);
      if (pi >= 0) {
        const [p] = this.#pings.splice(pi, 1);
        p.reject(err);
        return;
      }
    }
    this.#report(err);
  }

  #deliver(message: IkcMessage): void {
    const waiters = this.#waiters.get(message.state);
    const handlers = this.#handlers.get(message.state);
    // Decided before resolving: a resolved waiter removes itself from the list.
    const waited = waiters !== undefined && waiters.length > 0;
    if (waited) waiters[0].resolve(message);
    if (handlers) {
      for (const h of [...handlers]) this.#callHandler(h, message);
    }
    if (!waited && !handlers) this.#enqueue(message);
  }

  #enqueue(message: IkcMessage): void {
    if (this.#inboxSize >= this.#opts.inboxLimit) {
      // Drop the oldest, loudly.
      for (const [state, list] of this.#inbox) {
        const old = list.shift()!;
        this.#inboxSize--;
        if (list.length === 0) this.#inbox.delete(state);
        this.#report(new IkcError(
          `inbox full (${this.#opts.inboxLimit}): dropped a message for state ${old.state}; register a handler with on()`,
        ));
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
      this.#report(new IkcError(`handler for state ${m.state} threw: ${errText(e)}`, { cause: e }));
    }
  }

  #report(e: Error): void {
    this.error = e.message;
    if (this.#errorHandlers.size === 0) {
      console.warn(`[ikc ${this.name}] ${e.message}`);
      return;
    }
    for (const h of [...this.#errorHandlers]) {
      try {
        h(e);
      } catch {
        // An error handler that throws has nowhere further to report to.
      }
    }
  }
}

const now: () => number = typeof performance !== "undefined" ? () => performance.now() : () => Date.now();

/** The message `build` makes for this session's remote kernel, frozen and framed. */
function frameFor(session: Session, build: (remote: string) => Record<string, PerlValue>): Uint8Array {
  return encodeFrame(session.freezer.freeze(build(session.info.remoteKernel)));
}

function isConnectionFailure(e: unknown): boolean {
  return e instanceof DisconnectedError || (e instanceof Error && !(e instanceof IkcError) && !(e instanceof TypeError));
}

function isTrue(v: PerlValue): boolean {
  return v !== null && v !== undefined && v !== "" && v !== 0 && v !== "0" && v !== false;
}

function remoteErrorFrom(params: PerlValue): RemoteError {
  if (Array.isArray(params)) {
    const [msg, kernel, phase] = params;
    return new RemoteError(textOf(msg), kernel == null ? undefined : textOf(kernel), phase == null ? undefined : textOf(phase));
  }
  return new RemoteError(textOf(params));
}

function textOf(v: PerlValue): string {
  if (typeof v === "string") return v;
  if (v instanceof Uint8Array) return new TextDecoder().decode(v);
  if (v === null || v === undefined) return "";
  if (typeof v === "object") return describe(v);
  return String(v);
}

function describe(v: unknown): string {
  try {
    const s = JSON.stringify(v, (_k, x) => typeof x === "bigint" ? x.toString() : x instanceof Uint8Array ? `<${x.length} bytes>` : x);
    return s === undefined ? String(v) : s.length > 120 ? `${s.slice(0, 120)}...` : s;
  } catch {
    return Object.prototype.toString.call(v);
  }
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

function latin1(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i) & 0xff;
  return out;
}

function withTimeout<T>(p: Promise<T>, seconds: number, error: () => Error): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(error()), seconds * 1000);
    }),
  ]).finally(() => clearTimeout(timer));
}
