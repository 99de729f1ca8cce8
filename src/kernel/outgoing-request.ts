/**
 * One request of ours, from the call to its outcome. It owns its rsvp and the key its answer is
 * found by, builds its message for whichever channel it goes out on, and is bounded by its own
 * deadline and abort signal. Posts are requests too: they have no rsvp and settle once written.
 *
 * @module
 */
import { AbortError, TimeoutError } from "../core/errors.ts";
import { type Address, addressHash, type Message, requestMessage } from "../core/message.ts";
import type { PerlValue } from "../core/perl.ts";
import type { Deadlines } from "../time/deadlines.ts";
import { TimedPromise } from "../time/timed-promise.ts";
import type { Channel } from "./channel.ts";
import type { PendingRequests } from "./pending-requests.ts";
import { remoteErrorFrom } from "./remote-error.ts";
import { type Rsvp, rsvpKey } from "./rsvp.ts";
import { targetLabel, type Targets } from "./targets.ts";
import type { Target } from "./types.ts";
import type { Observer } from "./observer.ts";
import type { RequestTraceContext, Trace } from "./trace.ts";

/**
 * What a request is, for its message and its error texts.
 *
 * @example
 * ```ts
 * import type { RequestKind } from "./outgoing-request.ts";
 * const k: RequestKind = "call";
 * ```
 */
export type RequestKind = "call" | "postRespond" | "ping" | "subscribe" | "post";

/**
 * What makes a request.
 *
 * @example
 * ```ts
 * import type { RequestInit } from "./outgoing-request.ts";
 * const r: RequestInit = { kind: "post", target: "log/write", params: "hi", from: { kernel: "C", session: "IKCLite" }, seconds: 5 };
 * ```
 */
export interface RequestInit {
  kind: RequestKind;
  /** Where it goes, as the caller named it. */
  target: Target;
  params: PerlValue;
  /** Who sends it. */
  from: Address;
  /** Where the answer goes; none for a post. */
  rsvp?: Rsvp;
  /** List context: the answer is an array of every return value. */
  list?: boolean;
  /** Seconds it may take (to be answered; for a post, to be written). */
  seconds: number;
  signal?: AbortSignal;
}

/**
 * A request in flight. Settled once: answered (or written, for a post), timed out, aborted, or
 * failed with the reason its connection gave.
 *
 * @example
 * ```ts
 * import { OutgoingRequest } from "./outgoing-request.ts";
 * import { PendingRequests } from "./pending-requests.ts";
 * import { Targets } from "./targets.ts";
 * import { Deadlines } from "../time/deadlines.ts";
 * const pending = new PendingRequests();
 * const rsvp = { kernel: "C", session: "IKCLite", state: "response1" };
 * const r = new OutgoingRequest(
 *   { kind: "call", target: "calc/add", params: [1, 2], from: { kernel: "C", session: "IKCLite" }, rsvp, seconds: 5 },
 *   new Targets(), new Deadlines(), pending,
 * );
 * pending.oldest("IKCLite/response1")?.resolve(3);
 * console.log(await r.promise); // 3
 * ```
 */
export class OutgoingRequest extends TimedPromise<PerlValue> {
  readonly kind: RequestKind;
  readonly target: Target;
  readonly params: PerlValue;
  readonly from: Address;
  readonly rsvp: Rsvp | undefined;
  /** The rsvp's `session/state`, which the answer is found by; undefined for a post. */
  readonly key: string | undefined;
  readonly list: boolean;
  readonly seconds: number;
  /** The channel it was last queued on (undefined until then, and while it is being resent). */
  channel: Channel | undefined;
  /** True once it has been resent after a failed write (it is resent at most once). */
  resent = false;
  /** Told how it settles (the kernel's counters and traces), once it is sent. */
  observer: Observer | undefined;
  /** Its `ikc:request` trace, while someone traces. */
  trace: Trace<RequestTraceContext> | undefined;
  readonly #targets: Targets;
  readonly #pending: PendingRequests | undefined;

  /** Opens the request: it waits in `pending` (when it has an rsvp) and its clock starts. */
  constructor(init: RequestInit, targets: Targets, deadlines: Deadlines, pending?: PendingRequests) {
    super();
    this.kind = init.kind;
    this.target = init.target;
    this.params = init.params;
    this.from = init.from;
    this.rsvp = init.rsvp;
    this.key = init.rsvp === undefined ? undefined : rsvpKey(init.rsvp.session, init.rsvp.state);
    this.list = init.list === true;
    this.seconds = init.seconds;
    this.channel = undefined;
    this.#targets = targets;
    this.#pending = this.key === undefined ? undefined : pending;
    this.#pending?.add(this);
    this.start(deadlines, init.seconds * 1000, init.signal);
  }

  /** The target, as error messages name it. */
  get label(): string {
    return targetLabel(this.target);
  }

  /** Its message as sent on `channel` (a bare `session/state` goes to that channel's kernel). */
  message(channel: Channel): Record<string, PerlValue> {
    const event = this.#targets.eventFor(this.target, channel) as string;
    if (this.rsvp === undefined) return requestMessage(event, this.params, this.from);
    if (this.kind === "postRespond") {
      return requestMessage(event, [this.params, addressHash(this.rsvp)], this.from);
    }
    return requestMessage(event, this.params, this.from, this.rsvp, this.list);
  }

  /** Resolves with `value`, unless already settled. */
  override resolve(value: PerlValue): void {
    if (!this.settled) this.observer?.settled(this, undefined, value);
    super.resolve(value);
  }

  /** Rejects with `error`, unless already settled. */
  override reject(error: Error): void {
    if (!this.settled) this.observer?.settled(this, error);
    super.reject(error);
  }

  /** Its frame was handed to the OS: a post is done; a request waits on. */
  written(): void {
    if (this.rsvp === undefined) this.resolve(undefined as unknown as PerlValue);
  }

  /** Settles from the answer `m` (a remote_error rejects). */
  answer(m: Message): void {
    if (m.isError) return this.reject(remoteErrorFrom(m.params));
    if (!this.list) return this.resolve(m.params);
    this.resolve(Array.isArray(m.params) ? m.params : m.params === null ? [] : [m.params]);
  }

  protected timeoutError(): Error {
    const s = this.seconds;
    const what = `${this.kind} ${this.label}`;
    // A request that never left says so, rather than blaming a state that returned undef.
    if (this.rsvp === undefined) {
      return new TimeoutError(`${what}: not written within ${s} s (the peer is not reading, or is unreachable)`);
    }
    if (this.channel === undefined) {
      return new TimeoutError(`${what}: not sent (still connecting, or waiting for room to write) within ${s} s`);
    }
    if (this.kind === "call") {
      return new TimeoutError(
        `${what}: no answer within ${s} s: the state may be slow, or (in Perl) returned undef / an empty list, which sends none`,
      );
    }
    return new TimeoutError(`${what}: no answer within ${s} s`);
  }

  protected abortError(reason: unknown): Error {
    return new AbortError(`${this.kind} ${this.label}: aborted`, { cause: reason });
  }

  protected override settling(): void {
    this.#pending?.remove(this);
  }
}
