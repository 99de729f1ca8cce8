/**
 * `stats()` of the client and the server, from their kernel's counters.
 *
 * @module
 */
import type { Kernel } from "./kernel.ts";
import type { IkcStats } from "./stats.ts";

/**
 * {@link IkcStats} of a client.
 *
 * @example
 * ```ts
 * import type { ClientStats } from "@poe-ikc/ikc";
 * const flaky = (s: ClientStats) => s.reconnects > 3;
 * ```
 */
export interface ClientStats extends IkcStats {
  /** Connections made after the first. */
  readonly reconnects: number;
}

/**
 * {@link IkcStats} of a server.
 *
 * @example
 * ```ts
 * import type { ServerStats } from "@poe-ikc/ikc";
 * const busy = (s: ServerStats) => s.clients.now > 100;
 * ```
 */
export interface ServerStats extends IkcStats {
  /** Negotiated clients: connected now, and in all. */
  readonly clients: { readonly now: number; readonly total: number };
}

/**
 * The stats of a client's `kernel`.
 *
 * @example
 * ```ts
 * import { clientStats } from "./kernel-stats.ts";
 * import { Kernel } from "./kernel.ts";
 * console.log(clientStats(new Kernel({ id: "C", names: [], timeout: 5 })).reconnects); // 0
 * ```
 */
export function clientStats(kernel: Kernel): ClientStats {
  const s = kernel.observer.counters.snapshot(kernel.peers.channels().length);
  return { ...s, reconnects: Math.max(0, s.connections.total - 1) };
}

/**
 * The stats of a server's `kernel`.
 *
 * @example
 * ```ts
 * import { serverStats } from "./kernel-stats.ts";
 * import { Kernel } from "./kernel.ts";
 * console.log(serverStats(new Kernel({ id: "S", names: [], timeout: 5 })).clients); // { now: 0, total: 0 }
 * ```
 */
export function serverStats(kernel: Kernel): ServerStats {
  const s = kernel.observer.counters.snapshot(kernel.peers.channels().length);
  return { ...s, clients: { ...s.connections } };
}
