/**
 * Tracing through `node:diagnostics_channel`, as undici, pg and fastify do (OpenTelemetry
 * instrumentations subscribe to such channels). Tracing channels `ikc:request` (every request
 * this kernel sends) and `ikc:state` (every published state it runs for a peer) publish the
 * usual `start`, `end`, `asyncStart`, `asyncEnd` and `error` events on
 * `tracing:ikc:request:start` and so on; plain channels `ikc:connect`, `ikc:disconnect` and
 * `ikc:drop` tell about connections. Nothing is built or published while nobody subscribes.
 *
 * @module
 */
import * as diagnostics from "node:diagnostics_channel";

/** The part of a diagnostics channel this module uses. */
interface PlainChannel {
  readonly hasSubscribers: boolean;
  publish(message: unknown): void;
  runStores?<T>(context: object, fn: () => T): T;
}

/** The five channels of one tracing channel. */
interface Tracing {
  readonly start: PlainChannel;
  readonly end: PlainChannel;
  readonly asyncStart: PlainChannel;
  readonly asyncEnd: PlainChannel;
  readonly error: PlainChannel;
}

/** What this module uses of `node:diagnostics_channel`, where the runtime has it. */
interface Diagnostics {
  channel(name: string): PlainChannel;
  tracingChannel?(name: string): Tracing;
}

/** A channel nobody can subscribe to: where there is no `node:diagnostics_channel` (a browser bundle). */
const NO_CHANNEL: PlainChannel = { hasSubscribers: false, publish() {} };

const dc = diagnostics as unknown as Partial<Diagnostics>;

/** The plain channel `name`, or {@link NO_CHANNEL} without diagnostics_channel. */
function plain(name: string): PlainChannel {
  return typeof dc.channel === "function" ? dc.channel(name) : NO_CHANNEL;
}

/**
 * The channels of the tracing channel `name`: the runtime's `tracingChannel` where it has one
 * (Node 19.9+, Deno, Bun), else plain channels of the same names (`tracing:<name>:start`...),
 * which is what a tracing channel is made of, so subscribers see the same events either way.
 */
function tracing(name: string): Tracing {
  if (typeof dc.tracingChannel === "function") return dc.tracingChannel(name);
  const ch = (event: string) => plain(`tracing:${name}:${event}`);
  return {
    start: ch("start"),
    end: ch("end"),
    asyncStart: ch("asyncStart"),
    asyncEnd: ch("asyncEnd"),
    error: ch("error"),
  };
}

/**
 * The context of an `ikc:request` trace: a request this kernel sends.
 *
 * @example
 * ```ts
 * import type { RequestTraceContext } from "@poe-ikc/ikc";
 * const label = (c: RequestTraceContext) => `${c.kind} ${c.target} -> ${c.remoteKernel ?? "?"}`;
 * ```
 */
export interface RequestTraceContext {
  /** `call`, `post`, `postRespond`, `ping` or `subscribe`. */
  readonly kind: string;
  /** The target as the caller named it (`poe://Hub/calc/add`, `calc/add`). */
  readonly target: string;
  /** Our kernel id. */
  readonly kernel: string;
  /** The kernel it went to, once it was written (before: the kernel the target names, if any). */
  remoteKernel: string | undefined;
  /** The answer (set before `asyncStart` when it resolved). */
  result?: unknown;
  /** Why it failed (set before `error`). */
  error?: unknown;
}

/**
 * The context of an `ikc:state` trace: a published state this kernel runs for a peer.
 *
 * @example
 * ```ts
 * import type { StateTraceContext } from "@poe-ikc/ikc";
 * const label = (c: StateTraceContext) => `${c.peer} ${c.kind} ${c.session}/${c.state}`;
 * ```
 */
export interface StateTraceContext {
  /** `call` when an answer is wanted (the request had an rsvp), else `post`. */
  readonly kind: "call" | "post";
  /** Our session that runs. */
  readonly session: string;
  /** Our state that runs. */
  readonly state: string;
  /** Our kernel id. */
  readonly kernel: string;
  /** The kernel the request came from (its connection's). */
  readonly peer: string;
  /** What the state returned or resolved to (set before `asyncStart`). */
  result?: unknown;
  /** What it threw or rejected with (set before `error`). */
  error?: unknown;
}

/**
 * One traced operation: publishes `start` and `end` around its synchronous part, then `error`
 * (on failure), `asyncStart` and `asyncEnd` when it settles, as `tracePromise` does.
 *
 * @example
 * ```ts
 * import { requestTracing } from "./trace.ts";
 * const t = requestTracing.begin({ kind: "call", target: "calc/add", kernel: "C", remoteKernel: undefined });
 * t?.run(() => {});
 * t?.settle(undefined, 3);
 * ```
 */
export class Trace<C extends { result?: unknown; error?: unknown }> {
  readonly context: C;
  readonly #t: Tracing;
  #running = false;
  #late: { error: unknown; result: unknown } | undefined;

  /** A trace of `context` on `t`. */
  constructor(t: Tracing, context: C) {
    this.#t = t;
    this.context = context;
  }

  /** Runs the synchronous part: `start` (with the stores bound to it), `fn`, `error` if it threw, `end`. */
  run<T>(fn: () => T): T {
    const t = this.#t;
    const c = this.context;
    const body = () => {
      this.#running = true;
      try {
        return fn();
      } catch (e) {
        c.error = e;
        t.error.publish(c);
        throw e;
      } finally {
        this.#running = false;
        t.end.publish(c);
        // Settled inside fn (a request whose message could not be built): told after `end`.
        const late = this.#late;
        this.#late = undefined;
        if (late !== undefined) this.settle(late.error, late.result);
      }
    };
    if (typeof t.start.runStores === "function") return t.start.runStores(c, body);
    t.start.publish(c);
    return body();
  }

  /** It settled: with `error`, or with `result`. */
  settle(error: unknown, result?: unknown): void {
    const t = this.#t;
    const c = this.context;
    if (this.#running) {
      this.#late = { error, result };
      return;
    }
    // A synchronous throw was published by run(), as traceSync does: nothing follows it.
    if (error !== undefined && c.error === error) return;
    if (error !== undefined) {
      c.error = error;
      t.error.publish(c);
    } else {
      c.result = result;
    }
    t.asyncStart.publish(c);
    t.asyncEnd.publish(c);
  }
}

/**
 * A tracing channel's entry point: {@link TraceChannel.begin} returns undefined, and its caller
 * builds nothing, while nobody subscribes.
 *
 * @example
 * ```ts
 * import { stateTracing } from "./trace.ts";
 * console.log(stateTracing.active); // false until something subscribes
 * ```
 */
export class TraceChannel<C extends { result?: unknown; error?: unknown }> {
  readonly #t: Tracing;

  /** The tracing channel `name`. */
  constructor(name: string) {
    this.#t = tracing(name);
  }

  /** True while any of its five channels has a subscriber. */
  get active(): boolean {
    const t = this.#t;
    return t.start.hasSubscribers || t.end.hasSubscribers || t.asyncStart.hasSubscribers ||
      t.asyncEnd.hasSubscribers || t.error.hasSubscribers;
  }

  /** A trace of `context` when someone listens, else undefined. */
  begin(context: C): Trace<C> | undefined {
    return this.active ? new Trace(this.#t, context) : undefined;
  }
}

/** `ikc:request`: every request this kernel sends. */
export const requestTracing: TraceChannel<RequestTraceContext> = new TraceChannel("ikc:request");
/** `ikc:state`: every published state this kernel runs for a peer. */
export const stateTracing: TraceChannel<StateTraceContext> = new TraceChannel("ikc:state");

/**
 * The plain channels: `ikc:connect` and `ikc:disconnect` (a negotiated peer came or went; the
 * message is {@link ConnectionEvent}) and `ikc:drop` (this kernel refused or dropped a
 * connection: a limit, malformed data, a failed negotiation, read or write; {@link DropEvent}).
 *
 * @example
 * ```ts
 * import dc from "node:diagnostics_channel";
 * dc.subscribe("ikc:drop", (m) => console.log("dropped", m));
 * ```
 */
export const connectionChannels: {
  readonly connect: PlainChannel;
  readonly disconnect: PlainChannel;
  readonly drop: PlainChannel;
} = {
  connect: plain("ikc:connect"),
  disconnect: plain("ikc:disconnect"),
  drop: plain("ikc:drop"),
};

/**
 * What `ikc:connect` and `ikc:disconnect` publish.
 *
 * @example
 * ```ts
 * import type { ConnectionEvent } from "@poe-ikc/ikc";
 * const line = (e: ConnectionEvent) => `${e.kernel} ${e.peer.kernel} ${e.reason?.message ?? "up"}`;
 * ```
 */
export interface ConnectionEvent {
  /** Our kernel id. */
  readonly kernel: string;
  /** The remote kernel. */
  readonly peer: import("./types.ts").PeerInfo;
  /** Why it went (disconnect only). */
  readonly reason?: Error;
}

/**
 * What `ikc:drop` publishes.
 *
 * @example
 * ```ts
 * import type { DropEvent } from "@poe-ikc/ikc";
 * const line = (e: DropEvent) => `${e.address}: ${e.reason.message}`;
 * ```
 */
export interface DropEvent {
  /** Our kernel id. */
  readonly kernel: string;
  /** The socket's far end. */
  readonly address: string;
  /** The remote kernel, when it had negotiated. */
  readonly peer?: string;
  /** Why. */
  readonly reason: Error;
}

/**
 * Publishes a drop on `ikc:drop` when someone listens.
 *
 * @example
 * ```ts
 * import { publishDrop } from "./trace.ts";
 * publishDrop("Hub", "127.0.0.1:5000", new Error("too slow"));
 * ```
 */
export function publishDrop(kernel: string, address: string, reason: unknown, peer?: string): void {
  const ch = connectionChannels.drop;
  if (!ch.hasSubscribers) return;
  const r = reason instanceof Error ? reason : new Error(String(reason));
  ch.publish({ kernel, address, peer, reason: r } satisfies DropEvent);
}
