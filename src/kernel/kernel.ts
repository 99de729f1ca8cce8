/**
 * The kernel: what both ends of IKC share, assembled from one part per job: the states we
 * publish ({@link StateRegistry}), the kernels connected ({@link Peers}), the requests of ours
 * waiting ({@link PendingRequests}), the inbound {@link Router} and the {@link Responder} that
 * runs a state and answers. Every request of ours goes out through {@link send}.
 *
 * @module
 */
import { DisconnectedError, IkcError, type ProtocolError, RemoteError } from "../core/errors.ts";
import type { Address, Message } from "../core/message.ts";
import type { PerlValue } from "../core/perl.ts";
import { Deadlines } from "../time/deadlines.ts";
import type { Channel } from "./channel.ts";
import { checkContext, checkKnownKeys, checkSeconds } from "./checks.ts";
import { OutgoingRequest, type RequestKind } from "./outgoing-request.ts";
import { PendingRequests } from "./pending-requests.ts";
import { Peers } from "./peers.ts";
import { type ErrorHandler, Reporter } from "./report.ts";
import { Responder } from "./responder.ts";
import { Router } from "./router.ts";
import { RSVP_SESSION, Rsvps } from "./rsvp.ts";
import { Loopback } from "./loopback.ts";
import { ChannelLine, type Line } from "./send.ts";
import { StateRegistry } from "./state-registry.ts";
import { Targets } from "./targets.ts";
import type { SendOptions, Target } from "./types.ts";
import { type Authorize, Authorizer } from "./authorize.ts";
import { debugLog, type DebugOption } from "./debug-log.ts";
import { Observer } from "./observer.ts";

/**
 * Options of a {@link Kernel}.
 *
 * @example
 * ```ts
 * import type { KernelOptions } from "./kernel.ts";
 * const o: KernelOptions = { id: "Hub", names: ["Hub"], timeout: 30 };
 * ```
 */
export interface KernelOptions {
  /** Our kernel id: what goes in `from`/`rsvp` and is announced first. */
  id: string;
  /** Every name we answer to (the id included). */
  names: string[];
  /** Default answer timeout in seconds. */
  timeout: number;
  /**
   * Messages to states we did not publish and do not wait on: return true when taken (the
   * client's mailbox); otherwise the sender gets a remote_error.
   */
  unsolicited?: (message: Message, channel: Channel) => boolean;
  /** A frame that is not an IKC message: reported by default; a server drops the client instead. */
  malformed?: (error: ProtocolError, channel: Channel) => void;
  /** Sees every error reported, before repeats are folded (the client keeps Perl's `error` with it). */
  onReport?: ErrorHandler;
  /** While true, the deadline timer may idle armed (something else keeps the process alive). */
  holdTimer?: () => boolean;
  /** Requests of one peer our states may run at once (default: no limit). */
  maxInFlight?: number;
  /** Asked before any published state runs for a peer (see {@link Authorize}). */
  authorize?: Authorize;
  /** Debug lines: a function, true for stderr (default: `IKC_DEBUG=1` in the environment). */
  debug?: DebugOption;
}

const REQUEST_KEYS: ReadonlySet<string> = new Set(["timeout", "signal", "from"]);
const CALL_KEYS: ReadonlySet<string> = new Set(["timeout", "signal", "context", "from"]);

/**
 * The routing engine both {@link IkcClient} and {@link IkcServer} are built on. Sans transport:
 * it is handed channels and the messages read from them.
 *
 * @example
 * ```ts
 * import { Kernel } from "./kernel.ts";
 * const k = new Kernel({ id: "Hub", names: ["Hub"], timeout: 30 });
 * k.states.publish("calc", { add: (p) => (p as number[]).reduce((a, b) => a + b, 0) });
 * console.log(k.states.published()); // { IKC: [...], calc: ["add"] }
 * ```
 */
export class Kernel {
  readonly id: string;
  readonly names: readonly string[];
  readonly timeout: number;
  readonly deadlines: Deadlines;
  readonly reporter: Reporter;
  readonly pending: PendingRequests = new PendingRequests();
  readonly targets: Targets = new Targets();
  readonly rsvps: Rsvps;
  readonly states: StateRegistry;
  readonly peers: Peers;
  readonly responder: Responder;
  /** Counters, traces and the debug log. */
  readonly observer: Observer;
  readonly #router: Router;
  /** Our line to ourselves: requests naming one of our names run our own states. */
  readonly loopback: Loopback;

  /** A kernel; hooks are options (see {@link KernelOptions}). */
  constructor(options: KernelOptions) {
    this.id = options.id;
    this.names = [...new Set([options.id, ...options.names])];
    this.timeout = options.timeout;
    this.deadlines = new Deadlines({ hold: options.holdTimer });
    this.reporter = new Reporter(`ikc ${options.id}`, { tap: options.onReport });
    const report = (e: Error, kind?: string) => this.reporter.report(e, kind);
    this.rsvps = new Rsvps(this.id);
    this.states = new StateRegistry(this.id);
    this.peers = new Peers(report);
    this.observer = new Observer(this.id, debugLog(this.id, options.debug));
    this.responder = new Responder(
      this.id,
      this.states,
      {
        post: (ch, target, params, from) =>
          this.request("post", new ChannelLine(ch), target, params, undefined, from) as Promise<never>,
        call: <T>(ch: Channel, target: Target, params: PerlValue, o: SendOptions | undefined, from: Address) =>
          this.request("call", new ChannelLine(ch), target, params, o, from) as Promise<T>,
      },
      report,
      options.maxInFlight,
      this.observer,
    );
    this.#router = new Router({
      pending: this.pending,
      rsvps: this.rsvps,
      states: this.states,
      responder: options.authorize === undefined ? this.responder : new Authorizer(this.responder, options.authorize, {
        deadlines: this.deadlines,
        seconds: this.timeout,
        maxWaiting: options.maxInFlight ?? Infinity,
        report,
      }),
      report,
      unsolicited: options.unsolicited,
      malformed: options.malformed,
    });
    this.loopback = new Loopback(this);
  }

  /** True when `target` names one of our own names (a malformed target is not ours). */
  isLocal(target: Target): boolean {
    try {
      const k = this.targets.kernelOf(target);
      return k !== undefined && this.names.includes(k);
    } catch {
      return false;
    }
  }

  /** Routes one thawed frame read from `channel`. Never throws. */
  receive(value: PerlValue, channel: Channel): void {
    this.#router.receive(value, channel);
  }

  /** Registers a negotiated channel under the remote kernel's names and tells the monitors. */
  attach(channel: Channel): void {
    this.observer.attached(channel);
    this.peers.add(channel);
  }

  /**
   * A channel ended: the requests last queued on it fail with `reason` (as a DisconnectedError
   * unless it says more), monitors are told. Returns how many requests failed.
   */
  detach(channel: Channel, reason: Error): number {
    if (!this.peers.remove(channel, reason)) return 0;
    this.observer.detached(channel, reason);
    const why = reason instanceof DisconnectedError || (reason instanceof IkcError && !(reason instanceof RemoteError))
      ? reason
      : new DisconnectedError(`connection to ${channel.conn.remote} lost: ${reason.message}`, { cause: reason });
    return this.pending.failChannel(channel, why);
  }

  /**
   * Opens a request of `kind` and sends it on `line` (on our loopback when the target names us);
   * resolves with the answer (a post: once written). Bad options reject with a TypeError, a
   * malformed target with a ProtocolError. The option `from` names the sending session: the
   * message then says `{kernel: <our id>, session: from, state: "IKC:proxy"}`, as a Perl session's
   * does, so a reply to the sender reaches that session's published states.
   */
  request(
    kind: RequestKind,
    line: Line,
    target: Target,
    params: PerlValue,
    options: SendOptions | undefined,
    from: Address = { kernel: this.id, session: RSVP_SESSION },
  ): Promise<PerlValue> {
    const seconds = options?.timeout ?? this.timeout;
    let request: OutgoingRequest;
    try {
      if (options !== undefined) {
        checkKnownKeys(options, kind === "call" ? CALL_KEYS : REQUEST_KEYS, `${kind}`);
        checkContext(options.context);
      }
      checkSeconds(seconds);
      this.targets.check(target);
      if (options?.from !== undefined) {
        from = { kernel: this.id, session: sessionName(options.from), state: "IKC:proxy" };
      }
      if (this.isLocal(target)) line = this.loopback;
      request = new OutgoingRequest(
        {
          kind,
          target,
          params: params ?? null,
          from,
          rsvp: kind === "post" ? undefined : kind === "ping" ? this.rsvps.ping() : this.rsvps.next(),
          list: options?.context === "list",
          seconds,
          signal: options?.signal,
        },
        this.targets,
        this.deadlines,
        this.pending,
      );
    } catch (e) {
      return Promise.reject(e);
    }
    return this.observer.request(request, line, this.targets);
  }
}

function sessionName(from: unknown): string {
  if (typeof from !== "string" || from === "" || from.includes("/")) {
    throw new TypeError(`option from names a session: a non-empty string without "/", not ${JSON.stringify(from)}`);
  }
  return from;
}
