/**
 * The frame around the two text codecs (FreezeThaw, Data::Dumper): resolving their options,
 * taking their input, turning a blown call stack into a limit, and the {@link Freezer} they make.
 *
 * @module
 */
import { LimitError } from "../errors.ts";
import type { Freezer } from "../freezer.ts";
import {
  checkInput,
  checkInputSize,
  type DecodeLimits,
  DEFAULT_LIMITS,
  type DeprecatedLimitNames,
  resolveLimits,
} from "../limits.ts";
import type { PerlInput, PerlValue } from "../perl.ts";

const utf8Encoder = new TextEncoder();

/**
 * The options both text decoders take, resolved: limits (old names reading the values in effect),
 * `byteStrings` (checked against `choices`, `fallback` when absent) and `numericStrings`.
 *
 * @example
 * ```ts
 * import { textDecodeOptions } from "./text-format.ts";
 * const o = textDecodeOptions({ numericStrings: "number" }, ["utf8", "latin1"], "utf8");
 * console.log(o.byteStrings, o.maxElements); // utf8 5000000
 * ```
 */
export function textDecodeOptions<S extends string>(
  o: DecodeLimits & DeprecatedLimitNames & { byteStrings?: S; numericStrings?: "string" | "number" },
  choices: readonly S[],
  fallback: S,
): Required<DecodeLimits & DeprecatedLimitNames> & { byteStrings: S; numericStrings: "string" | "number" } {
  const limits = resolveLimits(o);
  const r = {
    byteStrings: o.byteStrings ?? fallback,
    numericStrings: o.numericStrings ?? "string",
    ...limits,
    maxItems: limits.maxElements,
    maxInputBytes: limits.maxInputSize,
  };
  if (!choices.includes(r.byteStrings)) throw new TypeError(`bad byteStrings option ${r.byteStrings}`);
  if (r.numericStrings !== "string" && r.numericStrings !== "number") {
    throw new TypeError(`bad numericStrings option ${r.numericStrings}`);
  }
  return r;
}

/**
 * An encoder's `maxDepth` option, defaulted and checked.
 *
 * @example
 * ```ts
 * import { encodeDepth } from "./text-format.ts";
 * encodeDepth(undefined); // 512
 * ```
 */
export function encodeDepth(maxDepth: number | undefined): number {
  const d = maxDepth ?? DEFAULT_LIMITS.maxDepth;
  if (!(d >= 0)) throw new TypeError(`bad maxDepth option ${d}`);
  return d;
}

/**
 * A decoder's input as bytes: a Uint8Array, or a string taken as the UTF-8 decoding of the bytes;
 * checked against `maxInputSize` before and after encoding.
 *
 * @example
 * ```ts
 * import { inputBytes } from "./text-format.ts";
 * inputBytes("é", "Demo", 10); // Uint8Array [0xc3, 0xa9]
 * ```
 */
export function inputBytes(input: Uint8Array | string, who: string, maxInputSize: number): Uint8Array {
  checkInput(input, `${who} thaw`, true);
  // A string has at least as many UTF-8 bytes as UTF-16 units: too long before encoding it.
  checkInputSize(input.length, maxInputSize, who);
  const b = typeof input === "string" ? utf8Encoder.encode(input) : input;
  checkInputSize(b.length, maxInputSize, who);
  return b;
}

/**
 * `e` as it should leave a codec: a RangeError (the call stack ran out on deep nesting) becomes a
 * {@link LimitError}; anything else is returned as it is.
 *
 * @example
 * ```ts
 * import { stackLimit } from "./text-format.ts";
 * console.log((stackLimit(new RangeError("Maximum call stack size exceeded"), "Demo", 7) as Error).message);
 * // Demo: nesting too deep for the call stack
 * ```
 */
export function stackLimit(e: unknown, who: string, at: number): unknown {
  return e instanceof RangeError ? new LimitError(`${who}: nesting too deep for the call stack`, at, { cause: e }) : e;
}

/**
 * Runs an encoder, turning a blown call stack into a {@link LimitError} (see {@link stackLimit}).
 *
 * @example
 * ```ts
 * import { withStackLimit } from "./text-format.ts";
 * withStackLimit("Demo", () => new Uint8Array(1)); // Uint8Array [0]
 * ```
 */
export function withStackLimit(who: string, encode: () => Uint8Array): Uint8Array {
  try {
    return encode();
  } catch (e) {
    throw stackLimit(e, who, -1);
  }
}

/**
 * The {@link Freezer} for a text codec: frames are bytes (the string form a decoder also takes is
 * no frame), anything else is a CodecError.
 *
 * @example
 * ```ts
 * import { textFreezer } from "./text-format.ts";
 * const f = textFreezer("Demo", "Demo", { decode: () => null }, { encode: () => new Uint8Array(0) });
 * f.name; // "Demo"
 * ```
 */
export function textFreezer(
  name: string,
  who: string,
  dec: { decode(b: Uint8Array): PerlValue },
  enc: { encode(v: PerlInput): Uint8Array },
): Freezer {
  return {
    name,
    freeze: (value) => enc.encode(value),
    thaw: (bytes) => {
      checkInput(bytes, `${who} thaw`);
      return dec.decode(bytes);
    },
  };
}

/**
 * The four entry points each text codec exports, made from its decoder and encoder classes:
 * `freeze` and `thaw` (a default instance unless options are given), the default `freezer`, and
 * `create` for a freezer with options.
 *
 * @example
 * ```ts
 * import { textCodec } from "./text-format.ts";
 * import { FreezeThawDecoder, FreezeThawEncoder } from "../freezethaw.ts";
 * const c = textCodec("FreezeThaw", "FreezeThaw", FreezeThawDecoder, FreezeThawEncoder);
 * c.thaw(c.freeze([1])); // ["1"]
 * ```
 */
export function textCodec<DO, EO>(
  name: string,
  who: string,
  Decoder: new (o?: DO) => { decode(input: Uint8Array | string): PerlValue },
  Encoder: new (o?: EO) => { encode(v: PerlInput): Uint8Array },
): {
  freeze(value: PerlInput, options?: EO): Uint8Array;
  thaw(input: Uint8Array | string, options?: DO): PerlValue;
  freezer: Freezer;
  create(decodeOptions?: DO, encodeOptions?: EO): Freezer;
} {
  const dec = new Decoder();
  const enc = new Encoder();
  const create = (d?: DO, e?: EO) => textFreezer(name, who, d ? new Decoder(d) : dec, e ? new Encoder(e) : enc);
  return {
    freeze: (value, options) => (options ? new Encoder(options) : enc).encode(value),
    thaw: (input, options) => (options ? new Decoder(options) : dec).decode(input),
    freezer: create(),
    create,
  };
}
