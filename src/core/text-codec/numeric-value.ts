/**
 * Strings that look like Perl's output for a number, read as numbers (the text decoders'
 * `numericStrings: "number"`).
 *
 * @module
 */

const NUMERIC_INT = /^(?:0|-?[1-9][0-9]*)$/;
const NUMERIC_FLOAT = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?$/;

/**
 * The number `s` spells (a bigint beyond 2^53), or undefined when it is not one in the form Perl
 * writes numbers. At most 400 characters are tried.
 *
 * @example
 * ```ts
 * import { numericValue } from "./numeric-value.ts";
 * numericValue("-7"); // -7
 * numericValue("1.5e+20"); // 150000000000000000000
 * numericValue("007"); // undefined
 * ```
 */
export function numericValue(s: string): number | bigint | undefined {
  if (s.length === 0 || s.length > 400) return undefined;
  if (NUMERIC_INT.test(s)) {
    const n = Number(s);
    return Number.isSafeInteger(n) ? n : BigInt(s);
  }
  if (s !== "-0" && NUMERIC_FLOAT.test(s)) return Number(s);
  return undefined;
}
