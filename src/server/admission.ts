/**
 * Who the server lets in, and when: every accepted socket is waiting (for a `concurrency` slot),
 * negotiating, or served. Sockets still negotiating have their own cap, so silent sockets cannot
 * take the served clients' slots; one address may hold only its share of all three.
 *
 * @module
 */
import { LimitError } from "../core/errors.ts";

/**
 * The limits {@link Admission} enforces.
 *
 * @example
 * ```ts
 * import type { AdmissionLimits } from "./admission.ts";
 * const l: AdmissionLimits = { maxClients: 1000, concurrency: 50, maxNegotiating: 128, maxClientsPerAddress: 64 };
 * ```
 */
export interface AdmissionLimits {
  /** Clients served at once (negotiation done). */
  maxClients: number;
  /** Clients negotiating or served at once; further sockets wait for a slot. */
  concurrency: number;
  /** Sockets waiting for a slot or negotiating. */
  maxNegotiating: number;
  /** Sockets from one address, whatever their stage (Unix sockets have no address). */
  maxClientsPerAddress: number;
}

/**
 * One socket's place: `admitted` settles when it may negotiate (at once, or when a slot frees),
 * or rejects when the server gives up on it. `leave()` must be called once when it goes.
 *
 * @example
 * ```ts
 * import type { Ticket } from "./admission.ts";
 * async function serve(t: Ticket) { try { await t.admitted; } finally { t.leave(); } }
 * ```
 */
export interface Ticket {
  readonly admitted: Promise<void>;
  /** Negotiation is done: the socket now counts as a served client (a LimitError at maxClients). */
  served(): void;
  /** The socket is gone (refused, dropped or ended): its slot and its address's share free up. */
  leave(): void;
}

/**
 * The server's admission control.
 *
 * @example
 * ```ts
 * import { Admission } from "./admission.ts";
 * const a = new Admission({ maxClients: 2, concurrency: 2, maxNegotiating: 4, maxClientsPerAddress: 2 });
 * const t = a.arrive("127.0.0.1:40000");
 * await t.admitted;
 * t.served();
 * t.leave();
 * ```
 */
export class Admission {
  readonly #limits: AdmissionLimits;
  #waiting: Array<{ admit(): void }> = [];
  #negotiating = 0;
  #served = 0;
  #perAddress = new Map<string, number>();

  /** Enforces `limits`. */
  constructor(limits: AdmissionLimits) {
    this.#limits = limits;
  }

  /** Sockets waiting for a slot, negotiating, served. */
  get counts(): { waiting: number; negotiating: number; served: number } {
    return { waiting: this.#waiting.length, negotiating: this.#negotiating, served: this.#served };
  }

  /**
   * A socket from `remote` (`host:port`, or a path for a Unix socket) arrived. Throws a
   * LimitError naming the limit when it must be refused at once.
   */
  arrive(remote: string): Ticket {
    const l = this.#limits;
    const address = hostOf(remote);
    if (address !== undefined && (this.#perAddress.get(address) ?? 0) >= l.maxClientsPerAddress) {
      throw new LimitError(`maxClientsPerAddress (${l.maxClientsPerAddress}) reached for ${address}`);
    }
    if (this.#waiting.length + this.#negotiating >= l.maxNegotiating) {
      throw new LimitError(`maxNegotiating (${l.maxNegotiating}) sockets are already negotiating or waiting`);
    }
    if (this.#served >= l.maxClients) throw new LimitError(`maxClients (${l.maxClients}) reached`);
    if (address !== undefined) this.#perAddress.set(address, (this.#perAddress.get(address) ?? 0) + 1);
    let stage: "waiting" | "negotiating" | "served" | "gone" = "waiting";
    let admit!: () => void;
    const admitted = new Promise<void>((resolve) => (admit = resolve));
    const entry = {
      admit: () => {
        stage = "negotiating";
        this.#negotiating++;
        admit();
      },
    };
    if (this.#negotiating + this.#served < l.concurrency) entry.admit();
    else this.#waiting.push(entry);
    return {
      admitted,
      served: () => {
        if (stage !== "negotiating") return;
        if (this.#served >= l.maxClients) throw new LimitError(`maxClients (${l.maxClients}) reached`);
        stage = "served";
        this.#negotiating--;
        this.#served++;
      },
      leave: () => {
        if (stage === "gone") return;
        if (stage === "waiting") this.#waiting.splice(this.#waiting.indexOf(entry), 1);
        else if (stage === "negotiating") this.#negotiating--;
        else this.#served--;
        stage = "gone";
        if (address !== undefined) {
          const n = this.#perAddress.get(address)! - 1;
          if (n === 0) this.#perAddress.delete(address);
          else this.#perAddress.set(address, n);
        }
        this.#admitNext();
      },
    };
  }

  #admitNext(): void {
    while (this.#waiting.length > 0 && this.#negotiating + this.#served < this.#limits.concurrency) {
      this.#waiting.shift()!.admit();
    }
  }
}

/** The host part of `host:port` (`[v6]:port` too); undefined for a Unix socket's path. */
function hostOf(remote: string): string | undefined {
  const m = /^\[?(.*?)\]?:\d+$/.exec(remote);
  return m ? m[1] : undefined;
}
