/**
 * IKC event specifiers: `poe://kernel/session/state`, `poe:/session/state`, `session/state`,
 * each optionally followed by `?arg`, or the hash form `{kernel, session, state}`.
 *
 * @module
 */
import { ProtocolError } from "./errors.ts";
import { escapeText, latin1Decode } from "./text.ts";

/**
 * Longest kernel, session or state name read from a message's hash (characters, or bytes of a
 * byte string). Real names are tens of characters; a longer one makes the address invalid
 * instead of a string of megabytes that every later message about it would carry.
 *
 * @example
 * ```ts
 * import { MAX_NAME_LENGTH, scalarText } from "./specifier.ts";
 * scalarText("x".repeat(MAX_NAME_LENGTH + 1)); // undefined
 * ```
 */
export const MAX_NAME_LENGTH = 1024;

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

/**
 * Parses a specifier string. Throws a ProtocolError when it is not `session/state` shaped.
 *
 * The forms: `poe://kernel/session/state`, `poe:/session/state`, `poe:session/state` and
 * `session/state`, each optionally followed by `?args`. The session holds no `/` or `?`; the
 * state runs to the first `?` and may hold `/`; args are the rest. An empty kernel
 * (`poe:///s/e`) is no kernel. A string starting with `poe:` is read only as one of the `poe:`
 * forms, so `poe://K` and `poe://K/session` are errors.
 *
 * A scanner, not a regular expression: the one this replaced backtracked quadratically
 * (a 100 KB event string held the event loop for seconds).
 *
 * @example
 * ```ts
 * import { parseSpecifier } from "./specifier.ts";
 * parseSpecifier("poe://RefServer/test/echo?x"); // {kernel:"RefServer", session:"test", state:"echo", args:"x"}
 * parseSpecifier("test/echo"); // {session:"test", state:"echo"}
 * ```
 */
export function parseSpecifier(spec: string): Specifier {
  if (typeof spec !== "string") notASpecifier(spec);
  let p = 0;
  let kernel: string | undefined;
  if (spec.startsWith("poe:")) {
    p = 4;
    if (spec.startsWith("//", 4)) {
      const slash = spec.indexOf("/", 6);
      if (slash < 0) notASpecifier(spec);
      const q = spec.indexOf("?", 6);
      if (q >= 0 && q < slash) notASpecifier(spec);
      kernel = spec.slice(6, slash);
      p = slash + 1;
    } else if (spec.charCodeAt(4) === 0x2f) {
      p = 5;
    }
  }
  const slash = spec.indexOf("/", p);
  if (slash <= p) notASpecifier(spec); // no '/', or an empty session
  const q = spec.indexOf("?", p);
  if (q >= 0 && q < slash) notASpecifier(spec); // '?' inside the session
  const stateEnd = q < 0 ? spec.length : q;
  if (stateEnd === slash + 1) notASpecifier(spec); // empty state
  const out: Specifier = { session: spec.slice(p, slash), state: spec.slice(slash + 1, stateEnd) };
  if (kernel !== undefined && kernel !== "") out.kernel = kernel;
  if (q >= 0) out.args = spec.slice(q + 1);
  return out;
}

function notASpecifier(spec: unknown): never {
  // A bounded, escaped prefix: the string may be megabytes of hostile input.
  const shown = typeof spec === "string" ? `"${escapeText(spec, 100)}"` : typeof spec;
  throw new ProtocolError(`not an IKC specifier: ${shown} (want poe://kernel/session/state)`);
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
    const q = state.indexOf("?");
    const out: Specifier = { session, state: q < 0 ? state : state.slice(0, q) };
    const kernel = scalarText(e.kernel);
    if (kernel !== undefined && kernel !== "") out.kernel = kernel;
    return out;
  }
  return undefined;
}

/**
 * The text of a scalar as a specifier part: a string, a number, or a byte string (as Latin-1);
 * undefined for anything else, and for a name longer than {@link MAX_NAME_LENGTH}.
 *
 * @example
 * ```ts
 * import { scalarText } from "./specifier.ts";
 * scalarText(new Uint8Array([0x49, 0x4b, 0x43])); // "IKC"
 * ```
 */
export function scalarText(v: unknown): string | undefined {
  if (typeof v === "string") return v.length <= MAX_NAME_LENGTH ? v : undefined;
  if (typeof v === "number" || typeof v === "bigint") return String(v);
  if (v instanceof Uint8Array) return v.length <= MAX_NAME_LENGTH ? latin1Decode(v) : undefined;
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
 * Qualifies a destination for the connection it is sent on: a specifier that names no kernel
 * (`session/state`, `poe:/session/state`) gets the remote kernel's name, as ClientLite prefixes a
 * bare `session/state`; one that names a kernel is returned as it is. (ClientLite leaves
 * `poe:/session/state` alone; on the wire both mean the kernel at the other end.) Pass `parsed`
 * when the caller has already parsed `spec`.
 *
 * @example
 * ```ts
 * import { qualifySpecifier } from "./specifier.ts";
 * qualifySpecifier("test/echo", "RefServer"); // "poe://RefServer/test/echo"
 * qualifySpecifier("poe://Other/test/echo", "RefServer"); // "poe://Other/test/echo"
 * ```
 */
export function qualifySpecifier(spec: string, remoteKernel: string, parsed: Specifier = parseSpecifier(spec)): string {
  return parsed.kernel !== undefined ? spec : formatSpecifier({ ...parsed, kernel: remoteKernel });
}
