/**
 * Rsvps: where the answer to one of our requests is sent, and the key we find its request by.
 * Their format lives here alone.
 *
 * @module
 */
import type { Address } from "../core/message.ts";

/** The session our rsvps live in (ClientLite's, so a Perl peer sees what it always saw). */
export const RSVP_SESSION = "IKCLite";

/**
 * An rsvp: an address with a state, where an answer is posted.
 *
 * @example
 * ```ts
 * import type { Rsvp } from "./rsvp.ts";
 * const r: Rsvp = { kernel: "Client1", session: "IKCLite", state: "response7" };
 * ```
 */
export type Rsvp = Address & { state: string };

/**
 * The key a request waits under: the `session/state` its answer is posted to.
 *
 * @example
 * ```ts
 * import { rsvpKey } from "./rsvp.ts";
 * rsvpKey("IKCLite", "response7"); // "IKCLite/response7"
 * ```
 */
export function rsvpKey(session: string, state: string): string {
  return `${session}/${state}`;
}

/**
 * Hands out our rsvps (`IKCLite/response<n>`, and ClientLite's shared `IKC/pong` for pings) and
 * tells an answer that came too late from one to an rsvp we never used.
 *
 * @example
 * ```ts
 * import { Rsvps } from "./rsvp.ts";
 * const rsvps = new Rsvps("Client1");
 * const r = rsvps.next(); // { kernel: "Client1", session: "IKCLite", state: "response1" }
 * rsvps.staleness("IKCLite", "response1"); // "late"
 * ```
 */
export class Rsvps {
  readonly #kernel: string;
  #seq = 1;
  #pings = 0;

  /** Rsvps of the kernel with this id. */
  constructor(kernel: string) {
    this.#kernel = kernel;
  }

  /** A fresh rsvp for a request. */
  next(): Rsvp {
    return { kernel: this.#kernel, session: RSVP_SESSION, state: `response${this.#seq++}` };
  }

  /** The rsvp of a ping: every ping waits on `IKC/pong`, answered in order, as ClientLite's. */
  ping(): Rsvp {
    this.#pings++;
    return { kernel: this.#kernel, session: "IKC", state: "pong" };
  }

  /**
   * For an answer no request waits on: `late` when we used that rsvp (its request timed out or
   * was aborted), `stray` when we never did, undefined when it is not one of our rsvps.
   */
  staleness(session: string, state: string): "late" | "stray" | undefined {
    if (session === "IKC") return state === "pong" ? (this.#pings > 0 ? "late" : "stray") : undefined;
    if (session !== RSVP_SESSION || !/^response\d+$/.test(state)) return undefined;
    const n = Number(state.slice(8));
    return n > 0 && n < this.#seq ? "late" : "stray";
  }
}
