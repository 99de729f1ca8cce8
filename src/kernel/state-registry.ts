/**
 * The states a kernel publishes, by session, IKC's own among them.
 *
 * @module
 */
import { ProtocolError } from "../core/errors.ts";
import { addressName, describeValue } from "../core/message.ts";
import type { PerlValue } from "../core/perl.ts";
import type { StateHandler } from "./types.ts";
import { sessionSpec } from "./session-spec.ts";

/**
 * Published states: what remote kernels may post to and call. IKC's own session (`ping`,
 * `do_you_have`, `remote_error`) is always there, as Perl lists it.
 *
 * @example
 * ```ts
 * import { StateRegistry } from "./state-registry.ts";
 * const r = new StateRegistry("Hub");
 * r.publish("calc", { add: (p) => (p as number[]).reduce((a, b) => a + b, 0) });
 * console.log(r.published()); // { IKC: ["ping", "do_you_have", "remote_error"], calc: ["add"] }
 * ```
 */
export class StateRegistry {
  readonly #kernel: string;
  readonly #sessions = new Map<string, Map<string, StateHandler>>();

  /** The states of the kernel with id `kernel`. */
  constructor(kernel: string) {
    this.#kernel = kernel;
    this.#sessions.set(
      "IKC",
      new Map<string, StateHandler>([
        ["ping", () => "PONG"],
        ["do_you_have", (p) => this.#doYouHave(p)],
        ["remote_error", () => undefined], // routed before it gets here; listed because Perl publishes it
      ]),
    );
  }

  /** Publishes states of `session`. */
  publish(session: string, states: Record<string, StateHandler>): void {
    if (typeof session !== "string" || session === "" || session.includes("/")) {
      throw new TypeError(`session name ${JSON.stringify(session)} must be a non-empty string without '/'`);
    }
    if (session === "IKC") throw new TypeError("the IKC session is IKC's own");
    let table = this.#sessions.get(session);
    if (!table) this.#sessions.set(session, table = new Map());
    for (const [state, handler] of Object.entries(states)) {
      if (typeof handler !== "function") throw new TypeError(`state ${session}/${state} must be a function`);
      table.set(state, handler);
    }
  }

  /** Retracts some states of `session`, or all of them. False when it published nothing. */
  retract(session: string, states?: string[]): boolean {
    const table = this.#sessions.get(session);
    if (!table || session === "IKC") return false;
    if (states) { for (const s of states) table.delete(s); }
    if (!states || table.size === 0) this.#sessions.delete(session);
    return true;
  }

  /** session → state names. */
  published(): Record<string, string[]> {
    const out: Record<string, string[]> = {};
    for (const [session, table] of this.#sessions) out[session] = [...table.keys()];
    return out;
  }

  /** True when something other than IKC's own states is published. */
  hasPublished(): boolean {
    return this.#sessions.size > 1;
  }

  /** The states of `session`, when it published any. */
  session(session: string): ReadonlyMap<string, StateHandler> | undefined {
    return this.#sessions.get(session);
  }

  /** IKC/do_you_have: `[session address, our id]` when published, else a refusal text. */
  #doYouHave(p: PerlValue): PerlValue {
    const want = sessionSpec(Array.isArray(p) ? p[0] : p);
    if (!want) throw new ProtocolError(`Bad state ${describeValue(Array.isArray(p) ? p[0] : p)}`);
    const table = want.session === "IKC" ? undefined : this.#sessions.get(want.session);
    if (table && (want.state === undefined || table.has(want.state))) {
      const ses: Record<string, PerlValue> = { kernel: want.kernel ?? this.#kernel, session: want.session };
      if (want.state !== undefined) ses.state = want.state;
      return [ses, this.#kernel];
    }
    return `Refused subscription ${addressName(want)}`;
  }
}
