/**
 * What {@link IkcClient} and {@link IkcServer} share as façades of a kernel: publishing states
 * and hearing the errors that belong to no request.
 *
 * @module
 */
import type { Kernel } from "./kernel.ts";
import type { ErrorHandler } from "./report.ts";
import type { KernelMonitor, MonitorEvent, MonitorHandler, StateHandler } from "./types.ts";

/**
 * The base of both ends: a kernel whose states remote kernels may post to and call.
 *
 * @example
 * ```ts
 * import { IkcServer } from "@poe-ikc/ikc";
 * const server = await IkcServer.listen({ port: 0 });
 * server.publish("calc", { add: (p) => (p as number[]).reduce((a, b) => a + b, 0) });
 * await server.close();
 * ```
 */
export abstract class KernelHost {
  readonly #kernel: Kernel;

  /** A façade of `kernel`. */
  protected constructor(kernel: Kernel) {
    this.#kernel = kernel;
  }

  /**
   * Publishes states of `session`. Each state gets the request's params (ARG0) and a
   * {@link StateContext}; what it returns (or resolves to) is the answer to a call. Returning
   * `undefined` sends no answer, as a Perl state returning undef does; throwing answers with a
   * remote_error carrying the message. A client that has published keeps its connection up on
   * its own (see its `keepAlive` option).
   *
   * @example
   * ```ts
   * import { IkcServer } from "@poe-ikc/ikc";
   * const server = await IkcServer.listen({ port: 0 });
   * server.publish("calc", {
   *   add: (p) => (p as number[]).reduce((a, b) => a + b, 0),
   *   later: async (p, ctx) => { await ctx.post(ctx.rsvp ?? "IKCLite/done", p); },
   * });
   * await server.close();
   * ```
   */
  publish(session: string, states: Record<string, StateHandler>): void {
    this.#kernel.states.publish(session, states);
  }

  /**
   * Retracts states of `session` (all of them when `states` is omitted); false when it published nothing.
   *
   * @example
   * ```ts
   * import { IkcClient } from "@poe-ikc/ikc";
   * const worker = new IkcClient({ port: 6030 });
   * worker.publish("work", { square: (n) => (n as number) ** 2, cube: (n) => (n as number) ** 3 });
   * worker.retract("work", ["cube"]);
   * ```
   */
  retract(session: string, states?: string[]): boolean {
    return this.#kernel.states.retract(session, states);
  }

  /**
   * What is published: session → state names (IKC's own `IKC` session included, as Perl lists it).
   *
   * @example
   * ```ts
   * import { IkcServer } from "@poe-ikc/ikc";
   * const server = await IkcServer.listen({ port: 0 });
   * server.publish("calc", { add: () => 0 });
   * console.log(server.published()); // { IKC: ["ping", "do_you_have", "remote_error"], calc: ["add"] }
   * await server.close();
   * ```
   */
  published(): Record<string, string[]> {
    return this.#kernel.states.published();
  }

  /**
   * Registers a handler for errors that belong to no request: a remote_error for a post, a
   * connection lost with nothing pending, a client dropped for misbehaving, a state that threw.
   * Repeats of one kind in a burst arrive as one report and one summary with a count. Returns a
   * function that removes it. Without any handler such errors go to `console.warn`.
   *
   * @example
   * ```ts
   * import { IkcClient } from "@poe-ikc/ikc";
   * const ikc = await IkcClient.connect({ port: 6030 });
   * ikc.onError((e) => console.error("ikc:", e.message));
   * ```
   */
  onError(handler: ErrorHandler): () => void {
    return this.#kernel.reporter.add(handler);
  }

  /**
   * Monitors. `connect`/`disconnect` with a function: called when a remote kernel registers
   * (negotiation done) or unregisters (its connection is gone; `reason` says why). A kernel name
   * (an id or alias, or `*` for every kernel) with `{ register, unregister }` monitors that kernel
   * as Perl's `IKC/monitor` does, each call given a {@link KernelEvent}. Returns a function that
   * removes it.
   *
   * @example
   * ```ts
   * import { IkcServer } from "@poe-ikc/ikc";
   * const server = await IkcServer.listen({ port: 0 });
   * server.monitor("connect", (peer) => console.log("up:", peer.kernel, peer.aliases));
   * server.monitor("disconnect", (peer, why) => console.log("down:", peer.kernel, why?.message));
   * server.monitor("*", { register: (e) => console.log(e.kernel, e.real ? "(id)" : "(alias)") });
   * await server.close();
   * ```
   */
  monitor(event: MonitorEvent, handler: MonitorHandler): () => void;
  /** Monitors the kernel `name` (an id or alias, or `*` for every kernel); returns its remover. */
  monitor(name: string, handlers: KernelMonitor): () => void;
  monitor(name: string, handler: MonitorHandler | KernelMonitor): () => void {
    if (typeof handler === "function") return this.#kernel.peers.monitor(name as MonitorEvent, handler);
    return this.#kernel.peers.monitorName(name, handler);
  }
}
