/**
 * The session a subscription names.
 *
 * @module
 */
import type { Address } from "../core/message.ts";
import type { PerlValue } from "../core/perl.ts";

/**
 * A session specifier whose state is optional (`poe://K/S`, `{kernel, session}`), as
 * subscriptions (`IKC/do_you_have`) name them; undefined when `v` names none.
 *
 * @example
 * ```ts
 * import { sessionSpec } from "./session-spec.ts";
 * sessionSpec("poe://Hub/calc"); // { session: "calc", kernel: "Hub" }
 * ```
 */
export function sessionSpec(v: PerlValue): Address | undefined {
  if (typeof v === "string") {
    const m = /^(?:poe:\/\/([^/]*)\/|poe:\/?)?([^/?]+)(?:\/([^?]*))?/.exec(v);
    if (!m) return undefined;
    const a: Address = { session: m[2] };
    if (m[1]) a.kernel = m[1];
    if (m[3]) a.state = m[3];
    return a;
  }
  if (v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof Uint8Array)) {
    const h = v as Record<string, PerlValue>;
    if (typeof h.session !== "string" || h.session === "") return undefined;
    const a: Address = { session: h.session };
    if (typeof h.kernel === "string" && h.kernel !== "") a.kernel = h.kernel;
    if (typeof h.state === "string" && h.state !== "") a.state = h.state;
    return a;
  }
  return undefined;
}
