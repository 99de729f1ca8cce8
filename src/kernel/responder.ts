/**
 * Runs a published state for a remote kernel's request and answers it: the return value (or what
 * it resolves to) to the rsvp, a throw as a remote_error in the Perl Responder's words.
 *
 * @module
 */
import { RemoteError } from "../core/errors.ts";
import {
  type Address,
  addressHash,
  addressName,
  type Message,
  remoteErrorMessage,
  responseMessage,
  targetName,
} from "../core/message.ts";
import type { PerlInput, PerlValue } from "../core/perl.ts";
import type { Channel } from "./channel.ts";
import type { Observer } from "./observer.ts";
import type { StateRegistry } from "./state-registry.ts";
import type { SendOptions, StateContext, Target } from "./types.ts";

/**
 * What a running state may send back on the connection its request came on.
 *
 * @example
 * ```ts
 * import type { Replies } from "./responder.ts";
 * const none: Replies = { post: () => Promise.resolve(), call: () => Promise.reject(new Error("no")) };
 * ```
 */
export interface Replies {
  post(channel: Channel, target: Target, params: PerlValue, from: Address): Promise<void>;
  call<T>(
    channel: Channel,
    target: Target,
    params: PerlValue,
    options: SendOptions | undefined,
    from: Address,
  ): Promise<T>;
}

/**
 * Runs states and answers; counts those running, so a server can let them finish on close.
 *
 * @example
 * ```ts
 * import { Responder } from "./responder.ts";
 * import { StateRegistry } from "./state-registry.ts";
 * const replies = { post: () => Promise.resolve(), call: () => Promise.reject(new Error("none")) };
 * const r = new Responder("Hub", new StateRegistry("Hub"), replies, (e) => console.error(e.message));
 * await r.idle();
 * ```
 */
export class Responder {
  readonly #id: string;
  readonly #states: StateRegistry;
  readonly #replies: Replies;
  readonly #report: (e: Error, kind?: string) => void;
  readonly #maxInFlight: number;
  readonly #observer: Observer | undefined;
  #busy = 0;
  #idle: Array<() => void> = [];

  /**
   * Runs the states in `states` for kernel `id`; `report` takes what it refuses. At most
   * `maxInFlight` requests of one peer run at once; more are refused with a remote_error.
   */
  constructor(
    id: string,
    states: StateRegistry,
    replies: Replies,
    report: (e: Error, kind?: string) => void,
    maxInFlight = Infinity,
    observer?: Observer,
  ) {
    this.#maxInFlight = maxInFlight;
    this.#observer = observer;
    this.#id = id;
    this.#states = states;
    this.#replies = replies;
    this.#report = report;
  }

  /** Requests our states are running right now. */
  get busy(): number {
    return this.#busy;
  }

  /** Resolves once no state is running. */
  idle(): Promise<void> {
    if (this.#busy === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Runs the state `m` is for and answers it. Never throws. */
  run(m: Message, channel: Channel): void {
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
    const handler = this.#states.session(session)?.get(state);
    if (!handler) return this.refuse(m, channel, `Session '${session}' has not published state '${state}'`, "check");
    if (channel.running >= this.#maxInFlight) {
      return this.refuse(
        m,
        channel,
        `Kernel '${channel.remoteKernel}' has ${channel.running} requests in flight, the most maxInFlight allows`,
        "check",
      );
    }
    this.#busy++;
    channel.running++;
    const trace = this.#observer?.state(m, channel, session, state);
    // Settles once, whatever the state returns: a thenable may call back twice, or throw.
    let done = false;
    const answer = (r: unknown) => {
      if (done) return;
      done = true;
      trace?.settle(undefined, r);
      this.#answer(m, channel, r);
    };
    const failed = (e: unknown) => {
      if (done) return;
      done = true;
      trace?.settle(e ?? "rejected");
      this.#failed(m, channel, e);
    };
    try {
      const call = () => handler(args.length > 0 ? args[0] : null, this.#context(m, channel, session, state, args));
      const result = trace ? trace.run(call) : call();
      const then = result !== null && typeof result === "object" ? (result as PromiseLike<unknown>).then : undefined;
      if (typeof then === "function") then.call(result, answer, failed);
      else answer(result);
    } catch (e) {
      failed(e);
    }
  }

  /** Answers a request we cannot run with a remote_error (never an error with an error) and reports it. */
  refuse(m: Message, channel: Channel, why: string, phase: string): void {
    const text = `${why}.  Request ${targetName(m.target)}${m.from ? ` sent by ${addressName(m.from)}` : ""}`;
    this.#observer?.refused(phase);
    this.#report(new RemoteError(text, this.#id, phase), "refused");
    if (m.isError || !channel.alive) return;
    try {
      channel.send(remoteErrorMessage(channel.remoteKernel, text, m.target.kernel ?? this.#id, phase, m.rsvp));
    } catch {
      // a remote_error always freezes; a dead channel already reported itself
    }
  }

  #context(m: Message, channel: Channel, session: string, state: string, args: PerlValue[]): StateContext {
    const from: Address = { kernel: this.#id, session, state: "IKC:proxy" };
    const rsvp = m.rsvp;
    return {
      from: m.from,
      kernel: channel.remoteKernel,
      kernelAliases: channel.info.remoteAliases,
      session,
      state,
      context: m.wantarray ? "list" : "scalar",
      wantsAnswer: rsvp !== undefined,
      // An rsvp without a state cannot be posted to; the answer (if any) fails on its own.
      rsvp: rsvp?.state !== undefined ? (rsvp as Address & { state: string }) : undefined,
      args,
      post: (target: Target, params?: PerlInput) =>
        this.#replies.post(channel, target, (params ?? null) as PerlValue, from),
      call: <T>(target: Target, params?: PerlInput, options?: SendOptions) =>
        this.#replies.call<T>(channel, target, (params ?? null) as PerlValue, options, from),
    };
  }

  #answer(m: Message, channel: Channel, result: unknown): void {
    this.#finished(channel);
    const rsvp = m.rsvp;
    if (!rsvp || result === undefined || !channel.alive) return;
    const params = m.wantarray ? (Array.isArray(result) ? result : [result]) : result;
    const session = m.target.session;
    try {
      // Answered to the rsvp hash as received: a Perl rsvp may carry `args` (`poe:state?tag`)
      // that its state gets back as a further argument.
      const raw = m.raw.rsvp;
      const event = raw !== null && typeof raw === "object" && !Array.isArray(raw) && !(raw instanceof Uint8Array)
        ? raw as Record<string, PerlValue>
        : addressHash(rsvp);
      channel.send(responseMessage(event, params as PerlValue, { kernel: this.#id, session, state: "IKC:proxy" }));
    } catch (e) {
      this.refuse(
        m,
        channel,
        `State '${stateName(m)}' returned a value that cannot be sent: ${errText(e)}`,
        "invocation",
      );
    }
  }

  #failed(m: Message, channel: Channel, e: unknown): void {
    this.#finished(channel);
    this.refuse(m, channel, `State '${stateName(m)}' failed: ${errText(e)}`, "invocation");
  }

  #finished(channel: Channel): void {
    channel.running--;
    // Checked first: a server whose states answer at once comes back to 0 after every request.
    if (--this.#busy === 0 && this.#idle.length > 0) { for (const f of this.#idle.splice(0)) f(); }
  }
}

/** `session/state` of the state that ran (a proxied request names its state inside). */
function stateName(m: Message): string {
  const p = m.params;
  const state = m.target.state === "IKC:proxy"
    ? (Array.isArray(p) && typeof p[0] === "string" ? p[0] : "")
    : m.target.state;
  return `${m.target.session}/${state}`;
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
