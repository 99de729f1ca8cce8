/**
 * Where errors that belong to no request go, in bounded form: a flood of the same kind of
 * problem (200,000 stray messages, say) is one report at once and one summary with a count at the
 * end of the burst, not 200,000 calls.
 *
 * @module
 */
import { IkcError } from "../core/errors.ts";
import { backgroundTimer } from "../time/background-timer.ts";
import { escapeText } from "../core/text.ts";

/** Characters of one console line: an error message is a sentence, not a payload. */
const CONSOLE_MAX = 2000;

/**
 * A handler for errors that belong to no request.
 *
 * @example
 * ```ts
 * import type { ErrorHandler } from "@poe-ikc/ikc";
 * const log: ErrorHandler = (e) => console.error(e.message);
 * ```
 */
export type ErrorHandler = (error: Error) => void;

/**
 * Options of a {@link Reporter}.
 *
 * @example
 * ```ts
 * import type { ReporterOptions } from "./report.ts";
 * const o: ReporterOptions = { windowMs: 500, tap: (e) => console.log(e.message) };
 * ```
 */
export interface ReporterOptions {
  /** Repeats of one kind within this many milliseconds are folded into one summary (default 1000). */
  windowMs?: number;
  /** Sees every error before it is folded (the client keeps Perl's `error` string with it). */
  tap?: ErrorHandler;
}

interface Burst {
  count: number;
  cancel: () => void;
  last: Error;
}

/**
 * Fans errors out to handlers (or `console.warn` when there are none), coalescing repeats of one
 * `kind` within `windowMs`: the first is reported at once, the rest are counted and reported as one
 * summary when the window ends.
 *
 * @example
 * ```ts
 * import { Reporter } from "./report.ts";
 * const r = new Reporter("ikc Hub", { windowMs: 1000 });
 * const off = r.add((e) => console.error(e.message));
 * r.report(new Error("a stray answer"), "stray");
 * off();
 * ```
 */
export class Reporter {
  readonly #label: string;
  readonly #windowMs: number;
  readonly #tap: ErrorHandler | undefined;
  #handlers = new Set<ErrorHandler>();
  #bursts = new Map<string, Burst>();

  /** `label` prefixes console output. */
  constructor(label: string, options: ReporterOptions = {}) {
    this.#label = label;
    this.#windowMs = options.windowMs ?? 1000;
    this.#tap = options.tap;
  }

  /** Adds a handler; returns a function that removes it. */
  add(handler: ErrorHandler): () => void {
    this.#handlers.add(handler);
    return () => this.#handlers.delete(handler);
  }

  /** Reports `error`; with a `kind`, repeats within the window are folded into one summary. */
  report(error: Error, kind?: string): void {
    this.#tap?.(error);
    if (kind === undefined) return this.#emit(error);
    const burst = this.#bursts.get(kind);
    if (burst) {
      burst.count++;
      burst.last = error;
      return;
    }
    // A pending summary must not keep a process alive that has nothing else to do.
    const cancel = backgroundTimer(this.#windowMs, () => this.#flush(kind));
    this.#bursts.set(kind, { count: 0, cancel, last: error });
    this.#emit(error);
  }

  /** Emits pending summaries now (on close). */
  flush(): void {
    for (const kind of [...this.#bursts.keys()]) this.#flush(kind);
  }

  #flush(kind: string): void {
    const burst = this.#bursts.get(kind);
    if (!burst) return;
    this.#bursts.delete(kind);
    burst.cancel();
    if (burst.count > 0) {
      this.#emit(
        new IkcError(`${burst.count} more like this in the last burst; the last: ${burst.last.message}`, {
          cause: burst.last,
        }),
      );
    }
  }

  #emit(e: Error): void {
    if (this.#handlers.size === 0) {
      // Escaped: a peer's name holding a newline must not print a line of its own choosing.
      console.warn(`[${this.#label}] ${escapeText(e.message, CONSOLE_MAX)}`);
      return;
    }
    for (const h of [...this.#handlers]) {
      try {
        h(e);
      } catch {
        // An error handler that throws has nowhere further to report to.
      }
    }
  }
}
