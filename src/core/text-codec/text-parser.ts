/**
 * What the two text decoders' parsers share: the position, the error they fail with, and the
 * limits they count against.
 *
 * @module
 */
import { CodecError, LimitError } from "../errors.ts";
import { BYTE_STRING_WEIGHT, type DecodeLimits } from "../limits.ts";
import type { PerlValue } from "../perl.ts";
import { latin1Decode, utf8DecodeStrict } from "../text.ts";
import { numericValue } from "./numeric-value.ts";
import { codePointString, isAsciiUnits, type Units, unitsLatin1 } from "./units-text.ts";

/**
 * What a {@link TextParser} needs of its decoder's options: the limits, and how strings come out.
 *
 * @example
 * ```ts
 * import type { TextParserOptions } from "./text-parser.ts";
 * import { resolveLimits } from "../limits.ts";
 * const o: TextParserOptions = { ...resolveLimits({}), byteStrings: "utf8", numericStrings: "string" };
 * ```
 */
export type TextParserOptions = Required<DecodeLimits> & {
  /** `"latin1"`, `"utf8"` (when valid), or anything else for a Uint8Array. */
  byteStrings: string;
  numericStrings: "string" | "number";
};

/**
 * The base of a text decoder's parser: `who` names the format in every error.
 *
 * @example
 * ```ts
 * import { TextParser } from "./text-parser.ts";
 * import { resolveLimits } from "../limits.ts";
 * const o = { ...resolveLimits({ maxElements: 1 }), byteStrings: "utf8", numericStrings: "string" as const };
 * const p = new TextParser("Demo", new Uint8Array(4), o);
 * p.count();
 * try { p.count(); } catch (e) { console.log((e as Error).message); } // Demo: more than maxElements 1 values in one image
 * ```
 */
export class TextParser<B extends Units = Units> {
  pos = 0;
  /** Values counted so far against maxElements. */
  items = 0;
  protected readonly b: B;
  protected readonly who: string;
  protected readonly maxDepth: number;
  protected readonly maxElements: number;
  protected readonly maxStringLength: number;
  protected readonly byteStrings: string;
  /** Whether strings that spell numbers become numbers. */
  protected readonly numbers: boolean;

  constructor(who: string, b: B, o: TextParserOptions) {
    this.who = who;
    this.b = b;
    this.maxDepth = o.maxDepth;
    this.maxElements = o.maxElements;
    this.maxStringLength = o.maxStringLength;
    this.byteStrings = o.byteStrings;
    this.numbers = o.numericStrings === "number";
  }

  /**
   * A string scalar's value: ASCII as a string (or a number under `numericStrings: "number"`),
   * code points as a string, other octets as `byteStrings` says.
   */
  scalarText(bytes: Units): PerlValue {
    if (isAsciiUnits(bytes)) {
      const s = unitsLatin1(bytes);
      if (this.numbers) {
        const n = numericValue(s);
        if (n !== undefined) return n;
      }
      return s;
    }
    if (bytes instanceof Uint32Array) return codePointString(bytes);
    switch (this.byteStrings) {
      case "latin1":
        return latin1Decode(bytes);
      case "utf8":
        return utf8DecodeStrict(bytes) ?? this.byteString(bytes);
      default:
        return this.byteString(bytes);
    }
  }

  /** A copy of the bytes, counted as a byte string weighs (the value itself was counted already). */
  byteString(bytes: Uint8Array): Uint8Array {
    this.countN(BYTE_STRING_WEIGHT - 1);
    return bytes.slice();
  }

  /** Throws the CodecError for bad input at `at`. */
  fail(message: string, at: number = this.pos): never {
    throw new CodecError(`${this.who}: ${message}`, at);
  }

  /** Counts one value. */
  count(): void {
    if (++this.items > this.maxElements) this.tooMany();
  }

  /** Counts `n` values. */
  countN(n: number): void {
    this.items += n;
    if (this.items > this.maxElements) this.tooMany();
  }

  /** Throws the LimitError for too many values. */
  tooMany(): never {
    throw new LimitError(`${this.who}: more than maxElements ${this.maxElements} values in one image`, this.pos);
  }

  /** A declared string length against maxStringLength. */
  checkLength(n: number, what: string, at: number): void {
    if (n > this.maxStringLength) {
      throw new LimitError(`${this.who}: ${what} of ${n} bytes exceeds maxStringLength ${this.maxStringLength}`, at);
    }
  }

  /** Nesting depth `d` against maxDepth. */
  depth(d: number): void {
    if (d > this.maxDepth) {
      throw new LimitError(`${this.who}: nesting deeper than maxDepth ${this.maxDepth}`, this.pos);
    }
  }
}
