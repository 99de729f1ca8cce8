/**
 * The scalar half of a text encoder: which JS value is which Perl scalar, decided in one place
 * for both text codecs; each says how it spells them.
 *
 * @module
 */
import type { PerlValue } from "../perl.ts";

/**
 * How an encoder writes each kind of Perl scalar.
 *
 * @example
 * ```ts
 * import type { ScalarWriter } from "./write-scalar.ts";
 * const out: string[] = [];
 * const w: ScalarWriter = {
 *   undef: () => void out.push("undef"),
 *   string: (s) => void out.push(JSON.stringify(s)),
 *   number: (n) => void out.push(String(n)),
 *   bigint: (n) => void out.push(n.toString()),
 *   boolean: (b) => void out.push(b ? "1" : "''"),
 *   byteString: (b) => void out.push(`<${b.length} bytes>`),
 *   fail: (m) => { throw new Error(m); },
 * };
 * ```
 */
export interface ScalarWriter {
  undef(): void;
  string(s: string): void;
  number(n: number): void;
  bigint(n: bigint): void;
  boolean(b: boolean): void;
  byteString(b: Uint8Array): void;
  fail(message: string): never;
}

/**
 * The JS values that are Perl scalars to the text encoders.
 *
 * @example
 * ```ts
 * import type { ScalarValue } from "./write-scalar.ts";
 * const s: ScalarValue = new Uint8Array([0xff]); // a byte string
 * ```
 */
export type ScalarValue = string | number | bigint | boolean | null | undefined | Uint8Array;

/**
 * Writes `v` through `w` when it is a scalar (undef, string, number, bigint, boolean, byte
 * string) and returns true; returns false for anything else (references, v-strings, hooks), which
 * the encoder writes itself. A function or symbol is `w.fail`.
 *
 * @example
 * ```ts
 * import { writeScalar, type ScalarWriter } from "./write-scalar.ts";
 * const seen: string[] = [];
 * const w = { undef: () => seen.push("undef"), fail: (m: string) => { throw new Error(m); } } as unknown as ScalarWriter;
 * writeScalar(null, w); // true; seen is ["undef"]
 * writeScalar([1], w); // false: an array is the encoder's to write
 * ```
 */
export function writeScalar(v: PerlValue, w: ScalarWriter): v is ScalarValue {
  switch (typeof v) {
    case "string":
      w.string(v);
      return true;
    case "number":
      w.number(v);
      return true;
    case "undefined":
      w.undef();
      return true;
    case "bigint":
      w.bigint(v);
      return true;
    case "boolean":
      w.boolean(v);
      return true;
    case "object":
      if (v === null) {
        w.undef();
        return true;
      }
      if (v instanceof Uint8Array) {
        w.byteString(v);
        return true;
      }
      return false;
    default:
      return w.fail(`cannot freeze a ${typeof v}`);
  }
}
