/**
 * What client and server options share: the defaults both use, and the checks of names,
 * protocol and transport.
 *
 * @module
 */
import { isValidKernelName } from "../core/negotiation.ts";
import { detectTransport, transportFor } from "../transport/detect.ts";
import type { Transport } from "../transport/types.ts";

/** IKC's customary port. */
export const DEFAULT_PORT = 603;
/** Seconds a request of ours waits for its answer. */
export const DEFAULT_TIMEOUT = 30;
/** Largest frame accepted, in bytes. */
export const DEFAULT_MAX_FRAME_SIZE: number = 64 * 1024 * 1024;
/** Longest negotiation line accepted, in bytes. */
export const DEFAULT_MAX_LINE_LENGTH = 4096;
/** Bytes queued for a peer that does not read. */
export const DEFAULT_MAX_WRITE_BUFFER: number = 16 * 1024 * 1024;

/**
 * Throws a TypeError unless every name is a valid IKC kernel name.
 *
 * @example
 * ```ts
 * import { checkKernelNames } from "./settings.ts";
 * checkKernelNames(["Hub", "hub-2"]);
 * ```
 */
export function checkKernelNames(names: readonly string[]): void {
  for (const n of names) {
    if (!isValidKernelName(n)) {
      throw new TypeError(`kernel name ${JSON.stringify(n)} may only hold letters, digits, '_', '-' and '.'`);
    }
  }
}

/**
 * Throws a TypeError unless `protocol` is `IKC0` or `IKC`.
 *
 * @example
 * ```ts
 * import { checkProtocol } from "./settings.ts";
 * checkProtocol("IKC0");
 * ```
 */
export function checkProtocol(protocol: string): void {
  if (protocol !== "IKC0" && protocol !== "IKC") throw new TypeError(`protocol must be IKC0 or IKC, not ${protocol}`);
}

/**
 * The transport an option names: a Transport, a runtime name, or (undefined) the detected one.
 *
 * @example
 * ```ts
 * import { resolveTransport } from "./settings.ts";
 * const t = resolveTransport(undefined);
 * ```
 */
export function resolveTransport(t: Transport | "deno" | "bun" | "node" | undefined): Transport {
  return t === undefined ? detectTransport() : typeof t === "string" ? transportFor(t) : t;
}
