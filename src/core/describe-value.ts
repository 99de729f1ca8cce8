/**
 * A short printable form of any value, for error messages about what a peer sent.
 *
 * @module
 */
import { PerlRef } from "./perl.ts";
import { escapeText } from "./text.ts";

/** Characters of output before the description is cut. */
const DESCRIBE_MAX = 120;

/** Thrown inside the walk once the output is long enough: nothing after it would be shown. */
const FULL = Symbol("full");

/**
 * A JSON-like description of `v`, at most about 120 characters, with control characters escaped.
 * The walk stops as soon as the text is long enough and reads each object's keys once, so its
 * cost is bounded by the output, not by the value: a shared-reference DAG (`[x, x]` nested 22
 * deep, four million paths) costs what a flat array does.
 *
 * @example
 * ```ts
 * import { describeValue } from "./describe-value.ts";
 * describeValue({ a: [1, 2] }); // '{"a":[1,2]}'
 * describeValue("two\nlines"); // '"two\\nlines"'
 * ```
 */
export function describeValue(v: unknown): string {
  const w = new Walk();
  try {
    w.value(v);
  } catch (e) {
    if (e !== FULL) return Object.prototype.toString.call(v); // a hostile getter or Proxy
  }
  return w.out.length > DESCRIBE_MAX ? `${w.out.slice(0, DESCRIBE_MAX)}...` : w.out;
}

class Walk {
  out = "";
  readonly #keys = new Map<object, string[]>();

  put(s: string): void {
    this.out += s;
    if (this.out.length > DESCRIBE_MAX) throw FULL;
  }

  value(v: unknown): void {
    switch (typeof v) {
      case "string":
        return this.put(`"${escapeText(v, DESCRIBE_MAX)}"`);
      case "number":
      case "boolean":
      case "bigint":
        return this.put(String(v));
      case "undefined":
        return this.put("undefined");
      case "object":
        break;
      default:
        return this.put(typeof v);
    }
    if (v === null) return this.put("null");
    if (v instanceof Uint8Array) return this.put(`<${v.length} bytes>`);
    if (v instanceof PerlRef) {
      this.put("\\");
      return this.value(v.value);
    }
    if (Array.isArray(v)) {
      this.put("[");
      for (let i = 0; i < v.length; i++) {
        if (i > 0) this.put(",");
        this.value(v[i]);
      }
      return this.put("]");
    }
    let keys = this.#keys.get(v);
    if (keys === undefined) this.#keys.set(v, keys = Object.keys(v));
    this.put("{");
    for (let i = 0; i < keys.length; i++) {
      this.put(`${i > 0 ? "," : ""}"${escapeText(keys[i]!, DESCRIBE_MAX)}":`);
      this.value((v as Record<string, unknown>)[keys[i]!]);
    }
    this.put("}");
  }
}
