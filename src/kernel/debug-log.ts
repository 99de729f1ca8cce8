/**
 * The `debug` option (and `IKC_DEBUG=1`): one line per negotiation line and per message, each
 * escaped and bounded, never a whole payload.
 *
 * @module
 */
import { describeValue } from "../core/describe-value.ts";
import { escapeText } from "../core/text.ts";
import type { PerlValue } from "../core/perl.ts";

/** Characters of one debug line, at most (then `...`). */
export const DEBUG_LINE_MAX = 400;

/**
 * Where debug lines go: a function, or `true` for stderr.
 *
 * @example
 * ```ts
 * import type { DebugOption } from "@poe-ikc/ikc";
 * const lines: string[] = [];
 * const d: DebugOption = (line) => lines.push(line);
 * ```
 */
export type DebugOption = boolean | ((line: string) => void);

/**
 * Writes debug lines for kernel `name`: `[ikc <name>] <peer> <direction> <what>`, where `>` is
 * sent and `<` received.
 *
 * @example
 * ```ts
 * import { DebugLog } from "./debug-log.ts";
 * const log = new DebugLog("Hub", (line) => console.log(line));
 * log.negotiation("127.0.0.1:5000", "<", "SETUP KERNEL=C1;FREEZER=Storable;PID=7");
 * ```
 */
export class DebugLog {
  readonly #prefix: string;
  readonly #sink: (line: string) => void;

  /** Lines for kernel `name`, handed to `sink`. */
  constructor(name: string, sink: (line: string) => void) {
    this.#prefix = `[ikc ${escapeText(name, 64)}]`;
    this.#sink = sink;
  }

  /** A negotiation line sent (`>`) or received (`<`). */
  negotiation(peer: string, dir: ">" | "<", line: string): void {
    this.#write(`${this.#prefix} ${escapeText(peer, 80)} ${dir} ${escapeText(line, 200)}`);
  }

  /** A message sent (`>`) or received (`<`) as a frame of `bytes` bytes. */
  message(peer: string, dir: ">" | "<", value: PerlValue, bytes: number): void {
    const m = value !== null && typeof value === "object" && !Array.isArray(value) && !(value instanceof Uint8Array)
      ? value as Record<string, PerlValue>
      : undefined;
    const what = m === undefined
      ? `not a message: ${describeValue(value)}`
      : `${show(m.event)}${m.rsvp !== undefined ? ` rsvp ${show(m.rsvp)}` : ""}${
        m.is_error !== undefined ? " (error)" : ""
      } params ${describeValue(m.params)}`;
    this.#write(`${this.#prefix} ${escapeText(peer, 80)} ${dir} ${bytes} bytes: ${what}`);
  }

  #write(line: string): void {
    // Every part is escaped already: no line break of a peer's can split the line.
    const text = line.length > DEBUG_LINE_MAX ? `${line.slice(0, DEBUG_LINE_MAX)}...` : line;
    try {
      this.#sink(text);
    } catch {
      // a failing log must not fail the connection
    }
  }
}

/** An event or rsvp: its specifier when it is a string, else a short description. */
function show(v: PerlValue | undefined): string {
  return typeof v === "string" ? escapeText(v, 120) : describeValue(v);
}

/**
 * The debug log `option` asks for (`IKC_DEBUG=1` in the environment turns it on for stderr when
 * the option is not given), or undefined.
 *
 * @example
 * ```ts
 * import { debugLog } from "./debug-log.ts";
 * const log = debugLog("Hub", true); // lines to stderr
 * ```
 */
export function debugLog(name: string, option: DebugOption | undefined): DebugLog | undefined {
  const on = option ?? envDebug();
  if (on === false) return undefined;
  return new DebugLog(name, typeof on === "function" ? on : (line) => console.error(line));
}

/** True when IKC_DEBUG is 1, read only where reading the environment needs no prompt. */
function envDebug(): boolean {
  const g = globalThis as {
    Deno?: {
      env: { get(k: string): string | undefined };
      permissions?: { querySync?(d: { name: string; variable: string }): { state: string } };
    };
    process?: { env?: Record<string, string | undefined> };
  };
  try {
    if (g.Deno) {
      const q = g.Deno.permissions?.querySync?.({ name: "env", variable: "IKC_DEBUG" });
      if (q !== undefined && q.state !== "granted") return false;
      return g.Deno.env.get("IKC_DEBUG") === "1";
    }
    return g.process?.env?.IKC_DEBUG === "1";
  } catch {
    return false;
  }
}
