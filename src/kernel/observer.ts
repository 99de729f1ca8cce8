/**
 * Everything a kernel tells about its work, in one place its parts call: the counters of
 * `stats()`, the tracing channels, the `debug` log. The parts call it where the work happens;
 * each call is a counter bump and a branch while nobody traces or debugs.
 *
 * @module
 */
import type { Message } from "../core/message.ts";
import type { PerlValue } from "../core/perl.ts";
import type { Channel } from "./channel.ts";
import type { DebugLog } from "./debug-log.ts";
import type { OutgoingRequest } from "./outgoing-request.ts";
import { peerInfo } from "./peers.ts";
import { type Line, send } from "./send.ts";
import { KernelCounters } from "./stats.ts";
import type { Targets } from "./targets.ts";
import {
  connectionChannels,
  publishDrop,
  requestTracing,
  type StateTraceContext,
  stateTracing,
  type Trace,
} from "./trace.ts";

/**
 * A kernel's observer.
 *
 * @example
 * ```ts
 * import { Observer } from "./observer.ts";
 * const o = new Observer("Hub", undefined);
 * console.log(o.counters.requestsSent); // 0
 * ```
 */
export class Observer {
  /** Our kernel id. */
  readonly id: string;
  readonly counters: KernelCounters = new KernelCounters();
  /** The debug log, when `debug` is on. */
  readonly log: DebugLog | undefined;

  /** The observer of kernel `id`. */
  constructor(id: string, log: DebugLog | undefined) {
    this.id = id;
    this.log = log;
  }

  /** Sends `request` on `line`, counted and traced. */
  request(request: OutgoingRequest, line: Line, targets: Targets): Promise<PerlValue> {
    this.counters.requestsSent++;
    request.observer = this;
    if (!requestTracing.active) {
      send(request, line);
      return request.promise;
    }
    const t = requestTracing.begin({
      kind: request.kind,
      target: request.label,
      kernel: this.id,
      remoteKernel: line.ready()?.remoteKernel ?? targets.kernelOf(request.target),
    });
    request.trace = t;
    t?.run(() => send(request, line));
    return request.promise;
  }

  /** `request` settled (its promise is about to). */
  settled(request: OutgoingRequest, error: Error | undefined, value?: PerlValue): void {
    if (error === undefined) this.counters.requestsAnswered++;
    else this.counters.requestsFailed++;
    const t = request.trace;
    if (t === undefined) return;
    if (request.channel !== undefined) t.context.remoteKernel = request.channel.remoteKernel;
    t.settle(error, value);
  }

  /** A state runs for `m` from `channel`: counted; traced when someone listens. */
  state(m: Message, channel: Channel, session: string, state: string): Trace<StateTraceContext> | undefined {
    this.counters.statesRun++;
    if (!stateTracing.active) return undefined; // nothing built for nobody
    return stateTracing.begin({
      kind: m.rsvp !== undefined ? "call" : "post",
      session,
      state,
      kernel: this.id,
      peer: channel.remoteKernel,
    });
  }

  /** A request of a peer was refused (`check`) or its state failed (`invocation`). */
  refused(phase: string): void {
    if (phase === "invocation") this.counters.statesFailed++;
    else this.counters.statesRefused++;
  }

  /** A negotiated channel joined. */
  attached(channel: Channel): void {
    this.counters.connections++;
    const ch = connectionChannels.connect;
    if (ch.hasSubscribers) ch.publish({ kernel: this.id, peer: peerInfo(channel) });
  }

  /** A channel left, with `reason`. */
  detached(channel: Channel, reason: Error): void {
    const ch = connectionChannels.disconnect;
    if (ch.hasSubscribers) ch.publish({ kernel: this.id, peer: peerInfo(channel), reason });
  }

  /** We dropped `channel` ourselves (a limit, malformed data, a failed write). */
  dropped(channel: Channel, reason: Error): void {
    publishDrop(this.id, channel.conn.remote, reason, channel.remoteKernel);
  }
}
