/**
 * JSON in and out of the `ikc` command: params parsed so integers beyond 2^53 stay exact, and
 * Perl values printed as JSON with big integers as exact number literals.
 *
 * @module
 */
import { blessedClass, PerlRef, type PerlValue } from "../core/perl.ts";

/**
 * Turns a Perl value into something JSON can print: bytes as `{"$bytes": "hex"}`, refs as
 * `{"$ref": value}`, blessed values as `{"$class": name, "$value": value}`, a cycle as
 * `{"$cycle": true}`. A bigint stays a bigint: {@link formatJson} prints it as an exact number.
 *
 * @example
 * ```ts
 * import { formatJson, toJsonable } from "./json.ts";
 * formatJson(toJsonable({ n: 10n ** 20n, b: new Uint8Array([255]) })); // '{"n":100000000000000000000,"b":{"$bytes":"ff"}}'
 * ```
 */
export function toJsonable(v: PerlValue, seen: Set<object> = new Set()): unknown {
  if (v === null || v === undefined) return null;
  if (typeof v !== "object") return v;
  if (v instanceof Uint8Array) {
    let hex = "";
    for (const b of v) hex += b.toString(16).padStart(2, "0");
    return { $bytes: hex };
  }
  if (seen.has(v)) return { $cycle: true };
  seen.add(v);
  let out: unknown;
  if (v instanceof PerlRef) out = { $ref: toJsonable(v.value, seen) };
  else if (Array.isArray(v)) out = v.map((x) => toJsonable(x, seen));
  else {
    const o: Record<string, unknown> = {};
    for (const k of Object.keys(v)) o[k] = toJsonable((v as Record<string, PerlValue>)[k], seen);
    out = o;
  }
  seen.delete(v);
  const cls = blessedClass(v);
  return cls ? { $class: cls, $value: out } : out;
}

/**
 * JSON text of what {@link toJsonable} returns: compact on one line, or indented by `indent`
 * spaces. A bigint is written as its exact decimal digits (JSON numbers have no size limit).
 *
 * @example
 * ```ts
 * import { formatJson } from "./json.ts";
 * formatJson([9007199254740993n, "a"]); // '[9007199254740993,"a"]'
 * formatJson({ a: [1] }, 2); // '{\n  "a": [\n    1\n  ]\n}'
 * ```
 */
export function formatJson(v: unknown, indent = 0, depth = 0): string {
  if (typeof v === "bigint") return v.toString();
  if (v === null || typeof v !== "object") return JSON.stringify(v) ?? "null";
  const entries: Array<[string | undefined, unknown]> = Array.isArray(v)
    ? v.map((x) => [undefined, x])
    : Object.entries(v as Record<string, unknown>);
  const [open, close] = Array.isArray(v) ? ["[", "]"] : ["{", "}"];
  if (entries.length === 0) return open + close;
  const pad = indent > 0 ? "\n" + " ".repeat(indent * (depth + 1)) : "";
  const end = indent > 0 ? "\n" + " ".repeat(indent * depth) : "";
  const parts = entries.map(([k, x]) =>
    (k === undefined ? "" : JSON.stringify(k) + (indent > 0 ? ": " : ":")) + formatJson(x, indent, depth + 1)
  );
  return open + pad + parts.join("," + pad) + end + close;
}

// One JSON token: a string, a number, or anything else up to the next string or number.
const TOKEN = /"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|[^"\-\d]+/y;
const EXACT = /^-?\d+$/;

/**
 * Parses JSON text, keeping integers beyond 2^53 exact as bigint (JSON.parse would round
 * 9007199254740993 to 9007199254740992). The library sends such a bigint as the decimal number
 * Perl reads. Throws a SyntaxError for text that is not JSON.
 *
 * @example
 * ```ts
 * import { parseJson } from "./json.ts";
 * parseJson('[9007199254740993, 1.5, "9007199254740993"]'); // [9007199254740993n, 1.5, "9007199254740993"]
 * ```
 */
export function parseJson(text: string): unknown {
  const plain = JSON.parse(text);
  if (!/\d{16}/.test(text)) return plain;
  // Valid JSON: every token is a string, a number or punctuation. Big integers become strings
  // that carry a marker no string of the input holds, turned back into bigint while parsing.
  const strings = JSON.stringify(plain);
  let marker = "\u{10FFFF}big:";
  while (strings.includes(marker)) marker += "!";
  let rewritten = "";
  TOKEN.lastIndex = 0;
  for (let m; TOKEN.lastIndex < text.length && (m = TOKEN.exec(text)) !== null;) {
    const t = m[0];
    const exact = EXACT.test(t) && !Number.isSafeInteger(Number(t));
    rewritten += exact ? JSON.stringify(marker + t) : t;
  }
  return JSON.parse(
    rewritten,
    (_k, v) => typeof v === "string" && v.startsWith(marker) ? BigInt(v.slice(marker.length)) : v,
  );
}
