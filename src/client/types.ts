/**
 * The client's public types: its options, the messages a server sends it, its status and the
 * handle of a subscription. `mod.ts` re-exports them.
 *
 * @module
 */
import type { ConnectTlsOptions } from "../transport/types.ts";
import type { PerlInput, PerlValue } from "../core/perl.ts";
import type { CommonOptions } from "../kernel/types.ts";

/**
 * Options for {@link IkcClient}: {@link CommonOptions} and the client's own. Times are in seconds, as in Perl's ClientLite.
 *
 * @example
 * ```ts
 * import type { IkcClientOptions } from "@poe-ikc/ikc";
 * const o: IkcClientOptions = { host: "127.0.0.1", port: 6030, name: "TsClient", timeout: 5 };
 * ```
 */
export interface IkcClientOptions extends CommonOptions {
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
  /**
   * Speak TLS to the server: `true` verifies it against the system's roots, an object sets `ca`,
   * a client `cert` and `key`, `serverName`, `rejectUnauthorized`. Never falls back to plain text;
   * a refused handshake is a ConnectError within `connectTimeout`.
   */
  tls?: true | ConnectTlsOptions;
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
 * Options for {@link IkcClient.post}, {@link IkcClient.call} and {@link IkcClient.postRespond}.
 *
 * @example
 * ```ts
 * import type { PostOptions } from "@poe-ikc/ikc";
 * const o: PostOptions = { from: "ts", timeout: 2 };
 * ```
 */
export interface PostOptions extends RequestOptions {
  /**
   * The sending session (default `IKCLite`, ClientLite's): the message says `{kernel: <our id>,
   * session: from, state: "IKC:proxy"}`, so a Perl `$kernel->post($_[SENDER], state, @args)`
   * runs our published `from/state` with ARG0.. = args. Without it such replies reach the inbox
   * (`responded`/`on`) with the args as one array.
   */
  from?: string;
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
export interface CallOptions extends PostOptions {
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
 * A handler for server-initiated messages (see {@link IkcClient.onMessage}).
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
