/**
 * The `authorize` option: who may run which published state. It sits between the router and the
 * responder, so no state runs, IKC's `do_you_have` included, before it said yes. Requests of one
 * peer keep their order when it answers asynchronously: the later ones wait behind the earlier.
 *
 * @module
 */
import { IkcError } from "../core/errors.ts";
import type { Message } from "../core/message.ts";
import type { PerlValue } from "../core/perl.ts";
import { escapeText } from "../core/text.ts";
import type { Deadlines } from "../time/deadlines.ts";
import type { Channel } from "./channel.ts";
import { peerInfo } from "./peers.ts";
import { sessionSpec } from "./session-spec.ts";
import type { PeerInfo } from "./types.ts";

/**
 * What `authorize` is asked about: a request of `peer` to `session`/`state`. `kind` is `call`
 * when an answer is wanted, `post` when not, `subscribe` for `IKC/do_you_have` (then `session`
 * and `state` are the ones asked about, `state` undefined for a whole session).
 *
 * @example
 * ```ts
 * import type { AuthorizeRequest } from "@poe-ikc/ikc";
 * const ok = (r: AuthorizeRequest) => r.peer.kernel === "Admin" || r.session === "public";
 * ```
 */
export interface AuthorizeRequest {
  /** `call` (an answer is wanted), `post`, or `subscribe` (`IKC/do_you_have`). */
  readonly kind: "call" | "post" | "subscribe";
  /** The session asked for (`""` when a subscription names none). */
  readonly session: string;
  /** The state asked for; undefined when a subscription asks for a whole session. */
  readonly state: string | undefined;
  /** The remote kernel asking, as monitors see it (with `tls` over TLS). */
  readonly peer: PeerInfo;
}

/**
 * The `authorize` option: true lets the request run; false, a throw or a rejection refuses it.
 *
 * @example
 * ```ts
 * import type { Authorize } from "@poe-ikc/ikc";
 * const onlyWorkers: Authorize = ({ peer }) => peer.kernel.startsWith("Worker");
 * ```
 */
export type Authorize = (request: AuthorizeRequest) => boolean | PromiseLike<boolean>;

/**
 * What the authorizer hands requests on to (the responder).
 *
 * @example
 * ```ts
 * import type { RequestRunner } from "./authorize.ts";
 * const none: RequestRunner = { run: () => {}, refuse: () => {} };
 * ```
 */
export interface RequestRunner {
  /** Runs the state `m` is for and answers it; `proxied` are an IKC:proxy request's args. */
  run(m: Message, channel: Channel, proxied?: PerlValue[]): void;
  /** Answers `m` with a remote_error saying `why`, and reports it. */
  refuse(m: Message, channel: Channel, why: string, phase: string): void;
}

interface Waiting {
  m: Message;
  next: () => void;
}

/**
 * Runs `authorize` before each request of a peer reaches the responder. Without `authorize` it
 * passes everything straight on.
 *
 * @example
 * ```ts
 * import { Authorizer } from "./authorize.ts";
 * import { Deadlines } from "../time/deadlines.ts";
 * const runner = { run: () => {}, refuse: () => {} };
 * const a = new Authorizer(runner, ({ peer }) => peer.kernel === "Admin", {
 *   deadlines: new Deadlines(), seconds: 30, maxWaiting: 1000, report: (e) => console.error(e.message),
 * });
 * ```
 */
export class Authorizer implements RequestRunner {
  readonly #runner: RequestRunner;
  readonly #authorize: Authorize;
  readonly #o: AuthorizerOptions;
  /** Per peer, the requests waiting behind one whose answer is pending. */
  readonly #queues = new Map<Channel, Waiting[]>();

  /** Asks `authorize` before `runner` runs or refuses anything. */
  constructor(runner: RequestRunner, authorize: Authorize, options: AuthorizerOptions) {
    this.#runner = runner;
    this.#authorize = authorize;
    this.#o = options;
  }

  /** Runs the state once authorized (with a proxied request's own args). */
  run(m: Message, channel: Channel, proxied?: PerlValue[]): void {
    this.#admit(m, channel, () => this.#runner.run(m, channel, proxied));
  }

  /**
   * Refuses `m` for `why` once authorized; an unauthorized peer hears "Not authorized" instead,
   * so that what is published is not revealed to a peer that may not use it.
   */
  refuse(m: Message, channel: Channel, why: string, phase: string): void {
    this.#admit(m, channel, () => this.#runner.refuse(m, channel, why, phase));
  }

  #admit(m: Message, channel: Channel, next: () => void): void {
    // IKC/ping stays open: it reveals nothing the open socket does not.
    if (m.target.session === "IKC" && m.target.state === "ping") return next();
    const queue = this.#queues.get(channel);
    if (queue === undefined) return this.#ask(m, channel, next);
    if (queue.length >= this.#o.maxWaiting) {
      return this.#runner.refuse(
        m,
        channel,
        `Kernel '${channel.remoteKernel}' has ${queue.length} requests waiting for authorization, the most maxInFlight allows`,
        "check",
      );
    }
    queue.push({ m, next });
  }

  /** Asks about `m`; a pending answer holds the peer's later requests in a queue until it comes. */
  #ask(m: Message, channel: Channel, next: () => void): void {
    const request = this.#request(m, channel);
    let verdict: boolean | PromiseLike<boolean>;
    try {
      verdict = this.#authorize(request);
    } catch (e) {
      return this.#decide(m, channel, next, request, e);
    }
    if (verdict === null || typeof verdict !== "object" || typeof verdict.then !== "function") {
      return this.#decide(m, channel, next, request, verdict);
    }
    this.#queues.set(channel, []);
    let done = false;
    const settle = (outcome: unknown) => {
      if (done) return;
      done = true;
      deadline.cancel();
      if (!channel.alive) return void this.#queues.delete(channel); // gone: nothing to run or answer
      this.#decide(m, channel, next, request, outcome);
      this.#drain(channel);
    };
    const seconds = this.#o.seconds;
    const deadline = this.#o.deadlines.add(
      seconds * 1000,
      () => settle(new IkcError(`authorize did not answer within ${seconds} s`)),
    );
    try {
      verdict.then((ok) => settle(ok), (e) => settle(e ?? new IkcError("authorize rejected")));
    } catch (e) {
      settle(e);
    }
  }

  /** Takes the waiting requests in order until one waits on an answer again. */
  #drain(channel: Channel): void {
    const queue = this.#queues.get(channel)!;
    while (queue.length > 0) {
      const w = queue.shift()!;
      if (!channel.alive) continue; // the peer is gone: nothing to run, nobody to answer
      this.#queues.delete(channel);
      this.#ask(w.m, channel, w.next);
      const again = this.#queues.get(channel);
      if (again !== undefined) {
        again.push(...queue);
        return;
      }
    }
    this.#queues.delete(channel);
  }

  /** `outcome` true runs `next`; anything else refuses (a throw is reported too). */
  #decide(m: Message, channel: Channel, next: () => void, r: AuthorizeRequest, outcome: unknown): void {
    if (outcome === true) return next();
    const what = `${r.kind} ${escapeText(r.session, 80)}${r.state === undefined ? "" : `/${escapeText(r.state, 80)}`}`;
    if (outcome !== false) {
      const text = outcome instanceof Error ? outcome.message : String(outcome);
      this.#o.report(
        new IkcError(`authorize failed for ${what} of kernel ${channel.remoteKernel}: ${text}`, { cause: outcome }),
        "authorize",
      );
    }
    this.#runner.refuse(
      m,
      channel,
      `Not authorized: kernel '${escapeText(channel.remoteKernel, 80)}' may not ${what}`,
      "check",
    );
  }

  #request(m: Message, channel: Channel): AuthorizeRequest {
    const { session, state } = m.target;
    const peer = peerInfo(channel);
    if (session === "IKC" && state === "do_you_have") {
      const p = m.params;
      const want = sessionSpec(Array.isArray(p) ? p[0] : p);
      return { kind: "subscribe", session: want?.session ?? "", state: want?.state, peer };
    }
    const kind = m.rsvp !== undefined ? "call" : "post";
    if (state === "IKC:proxy") {
      const p = m.params;
      return { kind, session, state: Array.isArray(p) && typeof p[0] === "string" ? p[0] : "", peer };
    }
    return { kind, session, state, peer };
  }
}

/**
 * Options of an {@link Authorizer}.
 *
 * @example
 * ```ts
 * import type { AuthorizerOptions } from "./authorize.ts";
 * import { Deadlines } from "../time/deadlines.ts";
 * const o: AuthorizerOptions = { deadlines: new Deadlines(), seconds: 30, maxWaiting: 1000, report: () => {} };
 * ```
 */
export interface AuthorizerOptions {
  /** Where an answer's deadline lives. */
  deadlines: Deadlines;
  /** Seconds `authorize` may take before the request is refused. */
  seconds: number;
  /** Requests of one peer that may wait behind a pending answer; more are refused. */
  maxWaiting: number;
  /** Takes an `authorize` that threw or rejected. */
  report: (e: Error, kind?: string) => void;
}
