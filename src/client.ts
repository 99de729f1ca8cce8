/**
 * The IKC client: a port of Perl's POE::Component::IKC::ClientLite with an async API, on the
 * same kernel as the server. Many requests may be in flight on one connection; each is matched to
 * its own answer. Like POE's full IKC::Client it may also publish states, which the remote kernel
 * then posts to and calls over the connection we dialled, and subscribe to the remote's sessions.
 *
 * A façade: the connection and its status are the {@link Dialer}'s, messages the server sends on
 * its own are the {@link Mailbox}'s, requests go out through the kernel's one sender on a
 * {@link ResendOnce} line.
 *
 * @module
 */
import { describeValue } from "./core/describe-value.ts";
import { DisconnectedError, ProtocolError } from "./core/errors.ts";
import type { PerlInput, PerlValue } from "./core/perl.ts";
import type { Channel } from "./kernel/channel.ts";
import { Kernel } from "./kernel/kernel.ts";
import { KernelHost } from "./kernel/kernel-host.ts";
import { kernelId } from "./kernel/kernel-id.ts";
import { kernelOptions } from "./kernel/settings.ts";
import type { RequestKind } from "./kernel/outgoing-request.ts";
import type { Target } from "./kernel/types.ts";
import { dialChannel } from "./client/dial.ts";
import { Dialer } from "./client/dialer.ts";
import { Mailbox } from "./client/mailbox.ts";
import { type ClientSettings, DISCONNECT_WAIT, resolveClientOptions } from "./client/options.ts";
import { ResendOnce } from "./client/resend.ts";
import { subscribe } from "./client/subscription.ts";
import { type ClientStats, clientStats } from "./kernel/kernel-stats.ts";
import type {
  CallOptions,
  ClientStatus,
  IkcClientOptions,
  IkcMessage,
  MessageHandler,
  PostOptions,
  RemoteSession,
  RequestOptions,
} from "./client/types.ts";

export type * from "./client/types.ts";
export type { ClientStats } from "./kernel/kernel-stats.ts";
export type * from "./kernel/host-types.ts";

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
export class IkcClient extends KernelHost {
  /** Our kernel name (announced after {@link IkcClient.id}, as an alias). */
  readonly name: string;
  /**
   * Our kernel id: unique, announced first (as a Perl IKC::Client announces its POE kernel id),
   * so several clients of one name are each served by a Perl hub. Our rsvps name it.
   */
  readonly id: string;
  /** The last error message, as Perl's `$ikc->error`. */
  error: string | undefined;

  readonly #opts: ClientSettings;
  readonly #kernel: Kernel;
  readonly #mailbox: Mailbox;
  readonly #dialer: Dialer;
  readonly #line: ResendOnce;

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
    const o = resolveClientOptions(options);
    const id = kernelId(o.name);
    const kernel = new Kernel({
      ...kernelOptions(o, id),
      unsolicited: (m) => this.#mailbox.accept(m),
      onReport: (e) => this.#note(e),
      // An open connection keeps the process alive anyway: only then may an idle timer stay armed.
      holdTimer: () => this.#dialer.channel !== undefined,
    });
    super(kernel);
    this.#opts = o;
    this.#kernel = kernel;
    this.name = o.name;
    this.id = id;
    const report = (e: Error, kind?: string) => this.#kernel.reporter.report(e, kind);
    this.#mailbox = new Mailbox(o.inboxLimit, o.timeout, this.#kernel.deadlines, report);
    this.#dialer = new Dialer({
      dial: () => dialChannel(o, id, this.#kernel, { ended: (ch, reason, failed) => this.#ended(ch, reason, failed) }),
      keepAlive: () => o.keepAlive ?? this.#kernel.states.hasPublished(),
      report,
      redialFailed: (e) => this.#note(e),
    });
    this.#line = new ResendOnce(this.#dialer, o.reconnect);
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
    return this.#dialer.info?.remoteKernel;
  }

  /** Every name the remote kernel announced. */
  get remoteAliases(): string[] {
    return [...this.#dialer.info?.remoteAliases ?? []];
  }

  /** The negotiated protocol (`IKC0`, or `IKC` after fallback). */
  get protocol(): "IKC0" | "IKC" | undefined {
    return this.#dialer.info?.protocol;
  }

  /** The negotiated freezer package. */
  get freezer(): string | undefined {
    return this.#dialer.info?.freezer;
  }

  /** True while a negotiated connection is open. */
  get connected(): boolean {
    return this.#dialer.channel !== undefined;
  }

  /** Where the connection stands (see {@link ClientStatus}). */
  get status(): ClientStatus {
    return this.#dialer.status;
  }

  /** Number of requests waiting for an answer. */
  get pendingCount(): number {
    return this.#kernel.pending.size;
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
    await this.#noted(this.#dialer.open());
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
  post(spec: Target, params?: PerlInput, options?: PostOptions): Promise<void> {
    return this.#request("post", spec, params, options) as Promise<never>;
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
  call<T = PerlValue>(spec: Target, params?: PerlInput, options?: CallOptions): Promise<T> {
    return this.#request("call", spec, params, options) as Promise<T>;
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
  postRespond<T = PerlValue>(spec: Target, params?: PerlInput, options?: PostOptions): Promise<T> {
    return this.#request("postRespond", spec, params, options) as Promise<T>;
  }

  /**
   * Waits for the next message the server posts to `IKCLite/<state>` (ClientLite's `responded`).
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
    return this.#noted(this.#mailbox.next(state, options, () => this.#dialer.open()));
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
  async ping(options?: RequestOptions): Promise<boolean> {
    const answer = await this.#request("ping", "IKC/ping", "PING", options);
    if (answer === "PONG") return true;
    throw this.#note(new ProtocolError(`ping answered ${describeValue(answer)} instead of PONG`));
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
  subscribe(spec: string, options?: RequestOptions): Promise<RemoteSession> {
    return this.#noted(subscribe(spec, options, this.#kernel, this.#line, this));
  }

  /**
   * Registers a handler for messages the server posts on its own to `IKCLite/<state>`.
   * Returns a function that removes it.
   *
   * @example
   * ```ts
   * import { IkcClient } from "@poe-ikc/ikc";
   * const ikc = await IkcClient.connect({ port: 6030 });
   * const off = ikc.onMessage("tick", (params) => console.log("tick", params));
   * off();
   * ```
   */
  onMessage(state: string, handler: MessageHandler): () => void {
    return this.#mailbox.on(state, handler);
  }

  /**
   * The old name of {@link IkcClient.onMessage}, kept so existing code works.
   *
   * @deprecated Use onMessage
   * @example
   * ```ts
   * import { IkcClient } from "@poe-ikc/ikc";
   * const ikc = await IkcClient.connect({ port: 6030 });
   * ikc.on("tick", (params) => console.log("tick", params)); // same as ikc.onMessage
   * ```
   */
  on(state: string, handler: MessageHandler): () => void {
    return this.onMessage(state, handler);
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
    return this.#dialer.onStatus(handler);
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
    const closing = this.#dialer.close(Math.min(DISCONNECT_WAIT, this.#opts.connectTimeout) * 1000);
    this.#mailbox.rejectWaiters(new DisconnectedError("disconnected by the client"));
    await closing;
    this.#kernel.loopback.close();
    this.#kernel.deadlines.release();
    this.#kernel.reporter.flush();
  }

  /**
   * What this client counted since it was made (see {@link IkcStats}); `reconnects` are the
   * connections made after the first.
   *
   * @example
   * ```ts
   * import { IkcClient } from "@poe-ikc/ikc";
   * const ikc = await IkcClient.connect({ port: 6030 });
   * await ikc.call("calc/add", [1, 2]);
   * console.log(ikc.stats().requests); // { sent: 1, answered: 1, failed: 0 }
   * ```
   */
  stats(): ClientStats {
    return clientStats(this.#kernel);
  }

  /** `await using` support. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.disconnect();
  }

  // ---------------------------------------------------------------- internals

  /** Every request of ours: built, bounded and sent by the kernel, over the resending line. */
  #request(kind: RequestKind, spec: Target, params: PerlInput, options: CallOptions | undefined): Promise<PerlValue> {
    return this.#noted(this.#kernel.request(kind, this.#line, spec, (params ?? null) as PerlValue, options));
  }

  /** The one place Perl's `error` string is set: from every error a caller or reporter sees. */
  #note<E>(e: E): E {
    this.error = e instanceof Error ? e.message : String(e);
    return e;
  }

  #noted<T>(p: Promise<T>): Promise<T> {
    return p.catch((e) => Promise.reject(this.#note(e)));
  }

  /** Our channel ended (the kernel has failed the requests on it). */
  #ended(ch: Channel, reason: Error, failed: number): void {
    // No connection left to hold the process: an idle deadline timer must not either.
    this.#kernel.deadlines.release();
    if (!this.#dialer.lost(ch, reason)) return; // disconnect() is closing it gracefully
    this.#note(reason);
    if (failed === 0 && !(reason instanceof DisconnectedError)) this.#kernel.reporter.report(reason);
    // Waiters for server-initiated messages are kept: the next connection may deliver them.
  }
}
