/**
 * Picks the transport for the running runtime.
 *
 * @module
 */
import { bunTransport } from "./bun.ts";
import { denoTransport } from "./deno.ts";
import { nodeTransport } from "./node.ts";
import type { Transport } from "./types.ts";

/**
 * Names accepted by {@link transportFor}.
 *
 * @example
 * ```ts
 * import type { TransportName } from "@poe-ikc/ikc";
 * const name: TransportName = "node";
 * ```
 */
export type TransportName = "deno" | "bun" | "node";

/**
 * The native transport of the running runtime: Deno's when `globalThis.Deno` exists, Bun's when
 * `globalThis.Bun` exists, else `node:net`.
 *
 * @example
 * ```ts
 * import { detectTransport } from "./detect.ts";
 * const conn = await detectTransport().connect({ host: "127.0.0.1", port: 603 });
 * ```
 */
export function detectTransport(): Transport {
  const g = globalThis as { Deno?: unknown; Bun?: unknown };
  if (g.Deno !== undefined) return denoTransport;
  if (g.Bun !== undefined) return bunTransport;
  return nodeTransport;
}

/**
 * A transport by name, e.g. to use `node:net` on Deno or Bun.
 *
 * @example
 * ```ts
 * import { transportFor } from "./detect.ts";
 * const t = transportFor("node");
 * console.log(t.name); // "node"
 * ```
 */
export function transportFor(name: TransportName): Transport {
  switch (name) {
    case "deno":
      return denoTransport;
    case "bun":
      return bunTransport;
    case "node":
      return nodeTransport;
    default:
      throw new TypeError(`unknown transport ${JSON.stringify(name)} (expected "deno", "bun" or "node")`);
  }
}
