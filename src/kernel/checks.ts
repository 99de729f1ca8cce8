/**
 * Checks of the options callers pass: one wording for every TypeError they throw.
 *
 * @module
 */

/**
 * Throws a TypeError unless `seconds` is a positive number.
 *
 * @example
 * ```ts
 * import { checkSeconds } from "./checks.ts";
 * checkSeconds(5);
 * ```
 */
export function checkSeconds(seconds: number, what = "timeout"): void {
  if (!(typeof seconds === "number" && seconds > 0)) {
    throw new TypeError(`${what} must be a positive number of seconds`);
  }
}

/**
 * Throws a TypeError unless `context` is undefined, `scalar` or `list`.
 *
 * @example
 * ```ts
 * import { checkContext } from "./checks.ts";
 * checkContext("list");
 * ```
 */
export function checkContext(context: unknown): void {
  if (context !== undefined && context !== "list" && context !== "scalar") {
    throw new TypeError(`context must be "scalar" or "list", not ${String(context)}`);
  }
}

/**
 * Throws a TypeError naming the first key of `options` not in `known`: a misspelt option
 * (`timeOut`, `maxClient`) would otherwise be ignored in silence.
 *
 * @example
 * ```ts
 * import { checkKnownKeys } from "./checks.ts";
 * checkKnownKeys({ timeout: 1 }, new Set(["timeout", "signal"]), "call options");
 * ```
 */
export function checkKnownKeys(options: object | undefined, known: ReadonlySet<string>, what: string): void {
  if (options === undefined || options === null) return;
  if (typeof options !== "object") throw new TypeError(`${what} must be an object, not ${typeof options}`);
  for (const key in options) {
    if (!known.has(key)) {
      throw new TypeError(`unknown ${what} option ${JSON.stringify(key)} (known: ${[...known].join(", ")})`);
    }
  }
}
