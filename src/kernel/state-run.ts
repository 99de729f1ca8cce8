/**
 * One request a published state runs for a remote kernel: the context the state is handed, and
 * the end of the run, settled once whatever the state returns.
 *
 * @module
 */
import { RoutingError } from "../core/errors.ts";
import type { Address, Message } from "../core/message.ts";
import type { PerlInput, PerlValue } from "../core/perl.ts";
import type { Channel } from "./channel.ts";
import type { StateTraceContext, Trace } from "./trace.ts";
import type { Sender, SendOptions, StateContext, StateHandler, Target } from "./types.ts";

/**
 * What a running state may send back on the connection its request came on.
 *
 * @example
 * ```ts
 * import type { Replies } from "./state-run.ts";
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
 * The one a run belongs to (the responder): our kernel's id, the replies a state may send, and where
 * a run ends: the state's value (which may be undefined: no answer), or what it threw.
 *
 * @example
 * ```ts
 * import type { RunOwner } from "./state-run.ts";
 * const owner: RunOwner = {
 *   kernel: "Hub",
 *   replies: { post: () => Promise.resolve(), call: () => Promise.reject(new Error("no")) },
 *   answer: (m, _c, r) => console.log(m.target.state, r),
 *   fail: (_m, _c, e) => console.error(e),
 * };
 * ```
 */
export interface RunOwner {
  readonly kernel: string;
  readonly replies: Replies;
  answer(m: Message, channel: Channel, result: unknown): void;
  fail(m: Message, channel: Channel, error: unknown): void;
}

/**
 * A state running for a remote kernel's request; it is the {@link StateContext} the state gets.
 * Its replies (`post`, `call`, `sender`) are made when a state asks for them: most states never
 * do, and a busy server runs hundreds of thousands of requests a second.
 *
 * @example
 * ```ts
 * import { StateRun } from "./state-run.ts";
 * import type { Channel } from "./channel.ts";
 * import type { Message } from "../core/message.ts";
 * const owner = {
 *   kernel: "Hub",
 *   replies: { post: () => Promise.resolve(), call: () => Promise.reject(new Error("none")) },
 *   answer: (_m: Message, _c: Channel, r: unknown) => console.log(r),
 *   fail: () => {},
 * };
 * const start = (m: Message, ch: Channel) => StateRun.start((p) => p, m, ch, [m.params], owner, undefined);
 * ```
 */
export class StateRun implements StateContext {
  readonly from: Address | undefined;
  readonly session: string;
  readonly state: string;
  readonly args: readonly PerlValue[];
  readonly #m: Message;
  readonly #channel: Channel;
  readonly #owner: RunOwner;
  readonly #trace: Trace<StateTraceContext> | undefined;
  #settled = false;

  private constructor(
    m: Message,
    channel: Channel,
    args: PerlValue[],
    owner: RunOwner,
    trace: Trace<StateTraceContext> | undefined,
  ) {
    this.#m = m;
    this.#channel = channel;
    this.from = m.from;
    this.session = m.target.session;
    this.state = m.target.state;
    this.args = args;
    this.#owner = owner;
    this.#trace = trace;
  }

  /**
   * Runs `handler` for `m` (its target the real state) with `args` (ARG0, ARG1, ...); the value it
   * returns, or resolves to, goes to `owner.answer`, a throw or rejection to `owner.fail`, once.
   */
  static start(
    handler: StateHandler,
    m: Message,
    channel: Channel,
    args: PerlValue[],
    owner: RunOwner,
    trace: Trace<StateTraceContext> | undefined,
  ): void {
    const run = new StateRun(m, channel, args, owner, trace);
    try {
      const arg0 = args.length > 0 ? args[0] : null;
      const result = trace ? trace.run(() => handler(arg0, run)) : handler(arg0, run);
      // A thenable is read once and may call back twice, or throw: it settles the run once.
      const then = result !== null && typeof result === "object" ? (result as PromiseLike<unknown>).then : undefined;
      if (typeof then === "function") then.call(result, (r: unknown) => run.#answer(r), (e: unknown) => run.#fail(e));
      else run.#answer(result);
    } catch (e) {
      run.#fail(e);
    }
  }

  get kernel(): string {
    return this.#channel.remoteKernel;
  }

  get kernelAliases(): readonly string[] {
    return this.#channel.info.remoteAliases;
  }

  get context(): "scalar" | "list" {
    return this.#m.wantarray ? "list" : "scalar";
  }

  get wantsAnswer(): boolean {
    return this.#m.rsvp !== undefined;
  }

  get rsvp(): (Address & { state: string }) | undefined {
    // An rsvp without a state cannot be posted to; the answer (if any) fails on its own.
    const rsvp = this.#m.rsvp;
    return rsvp?.state !== undefined ? (rsvp as Address & { state: string }) : undefined;
  }

  // Getters that return bound functions: a state may take them apart (`const { post } = ctx`).
  get post(): StateContext["post"] {
    return (target: Target, params?: PerlInput) =>
      this.#owner.replies.post(this.#channel, target, (params ?? null) as PerlValue, this.#self());
  }

  get call(): StateContext["call"] {
    return <T>(target: Target, params?: PerlInput, options?: SendOptions) =>
      this.#owner.replies.call<T>(this.#channel, target, (params ?? null) as PerlValue, options, this.#self());
  }

  get sender(): Sender {
    return {
      post: (reply: string, ...args: PerlInput[]) => {
        const to = toSender(this.from, reply, args);
        return to instanceof Error
          ? Promise.reject(to)
          : this.#owner.replies.post(this.#channel, to[0], to[1], this.#self());
      },
      call: <T>(reply: string, ...args: PerlInput[]) => {
        const to = toSender(this.from, reply, args);
        return to instanceof Error
          ? Promise.reject(to)
          : this.#owner.replies.call<T>(this.#channel, to[0], to[1], undefined, this.#self());
      },
    };
  }

  /** Where replies come from: our session, through the IKC:proxy state Perl's thunks use. */
  #self(): Address {
    return { kernel: this.#owner.kernel, session: this.session, state: "IKC:proxy" };
  }

  #answer(result: unknown): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#trace?.settle(undefined, result);
    this.#owner.answer(this.#m, this.#channel, result);
  }

  #fail(error: unknown): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#trace?.settle(error ?? "rejected");
    this.#owner.fail(this.#m, this.#channel, error);
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
