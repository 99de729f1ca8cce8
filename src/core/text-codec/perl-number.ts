/**
 * Numbers as Perl prints them, for the text encoders.
 *
 * @module
 */

/**
 * Perl's stringification of a number (`%.15g` for doubles, `%.17g` when 15 digits would not read
 * back the same double; `Inf`, `-Inf`, `NaN`).
 *
 * @example
 * ```ts
 * import { perlNumber } from "./perl-number.ts";
 * perlNumber(0.1); // "0.1"
 * perlNumber(1e21); // "1e+21"
 * perlNumber(-Infinity); // "-Inf"
 * ```
 */
export function perlNumber(n: number): string {
  if (Number.isNaN(n)) return "NaN";
  if (n === Infinity) return "Inf";
  if (n === -Infinity) return "-Inf";
  if (Number.isSafeInteger(n)) return n === 0 ? "0" : String(n);
  const s = formatG(n, 15);
  return Number(s) === n ? s : formatG(n, 17);
}

/** C's `%.<precision>g`. */
function formatG(n: number, precision: number): string {
  const [mant, expText] = n.toExponential(precision - 1).split("e") as [string, string];
  const exp = Number(expText);
  if (exp < -4 || exp >= precision) {
    const m = mant.includes(".") ? mant.replace(/0+$/, "").replace(/\.$/, "") : mant;
    const a = Math.abs(exp);
    return `${m}e${exp < 0 ? "-" : "+"}${a < 10 ? "0" : ""}${a}`;
  }
  const f = n.toFixed(Math.max(0, precision - 1 - exp));
  return f.includes(".") ? f.replace(/0+$/, "").replace(/\.$/, "") : f;
}
