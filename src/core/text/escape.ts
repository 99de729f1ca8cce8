/**
 * Peer-supplied text made safe to put in an error message, a report or a log line.
 *
 * @module
 */

/**
 * How many characters of a peer's text {@link escapeText} shows by default.
 *
 * @example
 * ```ts
 * import { ESCAPE_MAX_LENGTH, escapeText } from "./escape.ts";
 * escapeText("x".repeat(1000)).length <= ESCAPE_MAX_LENGTH + 30; // true
 * ```
 */
export const ESCAPE_MAX_LENGTH = 200;

// What may need escaping: C0 and C1 controls, DEL, the backslash, line and paragraph separators,
// bidirectional controls, the BOM and surrogates (checked for pairing in the loop).
// deno-lint-ignore no-control-regex
const NEEDS_ESCAPE = /[\x00-\x1f\x7f-\x9f\\\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]/;

/**
 * `s` with every character that could end, rewrite or disguise a line shown as a visible escape
 * (`\n`, `\r`, `\t`, `\\`, `\xHH`, `\x{HHHH}`), and cut to its first `max` characters (the full
 * length is said after `...`). Linear in `max`, never in the length of `s`: a 32 MB name costs
 * what a 200-character one does.
 *
 * @example
 * ```ts
 * import { escapeText } from "./escape.ts";
 * escapeText("Eve\n[ikc RT] client Admin authenticated"); // "Eve\\n[ikc RT] client Admin authenticated"
 * escapeText("ab\u0000c"); // "ab\\x00c"
 * escapeText("y".repeat(300), 4); // "yyyy...(300 chars)"
 * ```
 */
export function escapeText(s: string, max: number = ESCAPE_MAX_LENGTH): string {
  const n = Math.min(s.length, max);
  const head = n < s.length ? s.slice(0, n) : s;
  const tail = n < s.length ? `...(${s.length} chars)` : "";
  if (!NEEDS_ESCAPE.test(head)) return head + tail;
  let out = "";
  for (let i = 0; i < n; i++) {
    const c = head.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
      const d = head.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        out += head.slice(i, i + 2); // a well-formed pair is an ordinary character
        i++;
        continue;
      }
    }
    out += escapeUnit(c);
  }
  return out + tail;
}

function escapeUnit(c: number): string {
  if (c === 0x0a) return "\\n";
  if (c === 0x0d) return "\\r";
  if (c === 0x09) return "\\t";
  if (c === 0x5c) return "\\\\";
  if (c < 0x20 || (c >= 0x7f && c <= 0x9f)) return `\\x${c.toString(16).padStart(2, "0")}`;
  if (
    c === 0x2028 || c === 0x2029 || c === 0x200e || c === 0x200f || (c >= 0x202a && c <= 0x202e) ||
    (c >= 0x2066 && c <= 0x2069) || c === 0xfeff || (c >= 0xd800 && c <= 0xdfff)
  ) {
    return `\\x{${c.toString(16).toUpperCase()}}`;
  }
  return String.fromCharCode(c);
}
