/**
 * What a kernel counts as it works: plain counters bumped where the work happens (no event, no
 * allocation), read by `stats()` on the client and the server.
 *
 * @module
 */

/**
 * A kernel's counters since it was made.
 *
 * @example
 * ```ts
 * import type { IkcStats } from "@poe-ikc/ikc";
 * const failRate = (s: IkcStats) => s.requests.failed / Math.max(1, s.requests.sent);
 * ```
 */
export interface IkcStats {
  /** Requests of ours (call, post, postRespond, ping, subscribe): sent, then answered (a post: written) or failed. */
  readonly requests: { readonly sent: number; readonly answered: number; readonly failed: number };
  /**
   * Requests of peers: states run (IKC's own included), failed (threw, rejected, or answered with
   * a value that could not be sent), refused (unpublished, not authorized, over `maxInFlight`).
   */
  readonly states: { readonly run: number; readonly failed: number; readonly refused: number };
  /** Bytes read from and written to this kernel's sockets, negotiation included. */
  readonly bytes: { readonly in: number; readonly out: number };
  /** Negotiated connections: open now, and made in all. */
  readonly connections: { readonly now: number; readonly total: number };
}

/**
 * The counters themselves: one object per kernel, shared by its channels and parts.
 *
 * @example
 * ```ts
 * import { KernelCounters } from "./stats.ts";
 * const c = new KernelCounters();
 * c.bytesIn += 42;
 * console.log(c.snapshot(0).bytes.in); // 42
 * ```
 */
export class KernelCounters {
  requestsSent = 0;
  requestsAnswered = 0;
  requestsFailed = 0;
  statesRun = 0;
  statesFailed = 0;
  statesRefused = 0;
  bytesIn = 0;
  bytesOut = 0;
  connections = 0;

  /** A copy, with `open` connections now. */
  snapshot(open: number): IkcStats {
    return {
      requests: { sent: this.requestsSent, answered: this.requestsAnswered, failed: this.requestsFailed },
      states: { run: this.statesRun, failed: this.statesFailed, refused: this.statesRefused },
      bytes: { in: this.bytesIn, out: this.bytesOut },
      connections: { now: open, total: this.connections },
    };
  }
}
