/**
 * IKC event specifiers: `poe://kernel/session/state`, `poe:/session/state`, `session/state`,
 * each optionally followed by `?arg`, or the hash form `{kernel, session, state}`.
 *
 * @module
 */
import { ProtocolError } from "./errors.ts";

/**
 * A parsed specifier. `kernel` is undefined when the specifier names no kernel.
 *
 * @example
 * ```ts
 * import type { Specifier } from "./specifier.ts";
 * const s: Specifier = { kernel: "K", session: "test", state: "echo" };
 * ```
 */
export interface Specifier {
  kernel?: string;
  session: string;
  state: string;
  /** The `?arg` suffix, without the `?`. */
  args?: string;
}

const SPEC_RE = /^(?:poe:(?:\/\/([^/?]*))?\/?)?([^/?]+)\/([^?]*)(?:\?(.*))?$/s;

/**
 * Parses a specifier string. Throws a ProtocolError when it is not `session/state` shaped.
 *
 * @example
 * ```ts
 * import { parseSpecifier } from "./specifier.ts";
 * parseSpecifier("poe://RefServer/test/echo?x"); // {kernel:"RefServer", session:"test", state:"echo", args:"x"}
 * parseSpecifier("test/echo"); // {session:"test", state:"echo"}
 * ```
 */
export function parseSpecifier(spec: string): Specifier {
  const m = SPEC_RE.exec(spec);
  if (!m || m[3] === "") {
    throw new ProtocolError(`not an IKC specifier: ${JSON.stringify(spec)} (want poe://kernel/session/state)`);
  }
  const out: Specifier = { session: m[2], state: m[3] };
  if (m[1] !== undefined && m[1] !== "") out.kernel = m[1];
  if (m[4] !== undefined) out.args = m[4];
  return out;
}

/**
 * Reads an event as found in a message: a specifier string or a `{kernel, session, state}` hash.
 * Returns undefined when the value is neither.
 *
 * @example
 * ```ts
 * import { toSpecifier } from "./specifier.ts";
 * toSpecifier({ kernel: "C", session: "IKCLite", state: "response1" });
 * toSpecifier("poe://C/IKCLite/response1");
 * ```
 */
export function toSpecifier(event: unknown): Specifier | undefined {
  if (typeof event === "string") {
    try {
      return parseSpecifier(event);
    } catch {
      return undefined;
    }
  }
  if (event !== null && typeof event === "object" && !Array.isArray(event)) {
    const e = event as Record<string, unknown>;
    const session = scalarText(e.session);
    const state = scalarText(e.state);
    if (session === undefined || state === undefined) return undefined;
    const out: Specifier = { session, state: state.replace(/\?.*$/s, "") };
    const kernel = scalarText(e.kernel);
    if (kernel !== undefined && kernel !== "") out.kernel = kernel;
    return out;
  }
  return undefined;
}

function scalarText(v: unknown): string | undefined {
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "bigint") return String(v);
  if (v instanceof Uint8Array) {
    let s = "";
    for (let i = 0; i < v.length; i++) s += String.fromCharCode(v[i]);
    return s;
  }
  return undefined;
}

/**
 * Formats a specifier as `poe://kernel/session/state[?args]` (or `poe:/session/state` without kernel).
 *
 * @example
 * ```ts
 * import { formatSpecifier } from "./specifier.ts";
 * formatSpecifier({ kernel: "K", session: "test", state: "echo" }); // "poe://K/test/echo"
 * ```
 */
export function formatSpecifier(spec: Specifier): string {
  const head = spec.kernel !== undefined ? `poe://${spec.kernel}/` : "poe:/";
  return `${head}${spec.session}/${spec.state}${spec.args !== undefined ? `?${spec.args}` : ""}`;
}

/**
 * Qualifies a user-given destination the way ClientLite does: a bare `session/state`
 * gets the remote kernel's name in front; `poe:` forms are kept.
 *
 * @example
 * ```ts
 * import { qualifySpecifier } from "./specifier.ts";
 * qualifySpecifier("test/echo", "RefServer"); // "poe://RefServer/test/echo"
 * ```
 */
export function qualifySpecifier(spec: string, remoteKernel: string): string {
  const parsed = parseSpecifier(spec); // validates shape
  if (spec.startsWith("poe:")) return spec;
  return formatSpecifier({ ...parsed, kernel: remoteKernel });
}
