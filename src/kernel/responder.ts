/**
 * Runs a published state for a remote kernel's request and answers it: the return value (or what
 * it resolves to) to the rsvp, a throw as a remote_error in the Perl Responder's words.
 *
 * @module
 */
import { RemoteError } from "../core/errors.ts";
import {
  addressHash,
  addressName,
  type Message,
  remoteErrorMessage,
  responseMessage,
  targetName,
} from "../core/message.ts";
import type { PerlValue } from "../core/perl.ts";
import type { Channel } from "./channel.ts";
import type { Observer } from "./observer.ts";
import type { StateRegistry } from "./state-registry.ts";
import { type Replies, type RunOwner, StateRun } from "./state-run.ts";

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
  readonly #report: (e: Error, kind?: string) => void;
  readonly #maxInFlight: number;
  readonly #observer: Observer | undefined;
  #busy = 0;
  #idle: Array<() => void> = [];
  /** What every run gets, made once: runs are many. */
  readonly #owner: RunOwner;

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
    this.#report = report;
    this.#owner = {
      kernel: id,
      replies,
      answer: (m, channel, result) => this.#answer(m, channel, result),
      fail: (m, channel, e) => this.#fail(m, channel, e),
    };
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
    StateRun.start(handler, m, channel, args, this.#owner, trace);
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

  #fail(m: Message, channel: Channel, e: unknown): void {
    this.#finished(channel);
    this.refuse(m, channel, `State '${stateName(m)}' failed: ${errText(e)}`, "invocation");
  }

  #finished(channel: Channel): void {
    channel.running--;
    // Checked first: a server whose states answer at once comes back to 0 after every request.
    if (--this.#busy === 0 && this.#idle.length > 0) { for (const f of this.#idle.splice(0)) f(); }
  }
}

/** `session/state` of the state that ran. */
function stateName(m: Message): string {
  return `${m.target.session}/${m.target.state}`;
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
