/**
 * Runs a published state for a remote kernel's request and answers it: the return value (or what
 * it resolves to) to the rsvp, a throw as a remote_error in the Perl Responder's words.
 *
 * @module
 */
import { RemoteError, RoutingError } from "../core/errors.ts";
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

  /**
   * Runs the state `m` is for and answers it. Never throws. `args` are a proxied request's
   * (ARG0, ARG1, ...), its state already the real one; otherwise ARG0 is the params.
   */
  run(m: Message, channel: Channel, proxied?: PerlValue[]): void {
    const session = m.target.session;
    const state = m.target.state;
    const args: PerlValue[] = proxied ?? [m.params];
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
      sender: {
        post: (reply: string, ...args: PerlInput[]) => {
          const to = toSender(m.from, reply, args);
          return to instanceof Error ? Promise.reject(to) : this.#replies.post(channel, to[0], to[1], from);
        },
        call: <T>(reply: string, ...args: PerlInput[]) => {
          const to = toSender(m.from, reply, args);
          return to instanceof Error
            ? Promise.reject(to)
            : this.#replies.call<T>(channel, to[0], to[1], undefined, from);
        },
      },
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

/**
 * Where a reply to the sender goes, as Perl's thunk sends it: an IKC:proxy request to a sender
 * whose `from` has a state, else a plain message to `{kernel, session, state}` with the args as
 * one array. A request that named no sender has a kernel (the peer) but no session to reply to.
 */
function toSender(from: Address | undefined, state: string, args: PerlInput[]): [Target, PerlValue] | RoutingError {
  if (from === undefined) return new RoutingError(`cannot reply ${state} to the sender: its request named no from`);
  if (typeof state !== "string" || state === "") {
    return new RoutingError(`a reply to the sender names a state, not ${String(state)}`);
  }
  const kernel = from.kernel;
  if (from.state !== undefined) {
    return [{ kernel, session: from.session, state: "IKC:proxy" }, [state, args] as PerlValue];
  }
  return [{ kernel, session: from.session, state }, args as PerlValue];
}

/** `session/state` of the state that ran. */
function stateName(m: Message): string {
  return `${m.target.session}/${m.target.state}`;
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
