/**
 * The limits every decoder (Storable, FreezeThaw, Data::Dumper) applies to one image, under one
 * set of names, and the argument check they share.
 *
 * The limits bound what a single frame can cost. Input bytes alone do not: one byte of Storable
 * can make a JS object (`SX_REF` is one byte; a PerlRef is dozens), so `maxElements` counts every
 * value an image creates, whatever its kind, and the default is chosen so that the costliest
 * image within the limits costs (time and memory) a small multiple of what an array of numbers of
 * the same byte size costs.
 *
 * @module
 */
import { CodecError, LimitError } from "./errors.ts";

/**
 * Limits of one decode. Exceeding one throws a {@link LimitError} naming the byte offset.
 *
 * @example
 * ```ts
 * import type { DecodeLimits } from "@poe-ikc/ikc";
 * const strict: DecodeLimits = { maxDepth: 64, maxElements: 100_000, maxStringLength: 1 << 20, maxInputSize: 4 << 20 };
 * ```
 */
export interface DecodeLimits {
  /** Nesting levels (arrays, hashes, references, blessed and hook objects). Default 512. */
  maxDepth?: number;
  /**
   * Values the image creates, so that the count follows what the frame costs: one for every
   * scalar (also inside containers), array, hash, hash key, reference (refs to refs too), back
   * reference, regexp, v-string and blessing; {@link BYTE_STRING_WEIGHT} for a string that comes
   * out as a Uint8Array (and for a Storable hook's frozen string, plus one for its list).
   * An array of n numbers counts n + 1, a hash of n entries 2n + 1.
   * Default 5,000,000: an array of a million numbers and 100,000 rows of 5-key hashes both fit
   * three times over.
   */
  maxElements?: number;
  /** Bytes (characters in a FreezeThaw character frame) per string, hash key or class name. Default 64 MiB. */
  maxStringLength?: number;
  /** Largest accepted input, in bytes. Default 256 MiB. */
  maxInputSize?: number;
}

/**
 * Old names of two limits, still read by the FreezeThaw and Data::Dumper decoders.
 *
 * @example
 * ```ts
 * import type { DeprecatedLimitNames } from "@poe-ikc/ikc";
 * const old: DeprecatedLimitNames = { maxItems: 1000, maxInputBytes: 65536 }; // now maxElements, maxInputSize
 * ```
 */
export interface DeprecatedLimitNames {
  /** @deprecated Use `maxElements` (same meaning). */
  maxItems?: number;
  /** @deprecated Use `maxInputSize` (same meaning). */
  maxInputBytes?: number;
}

/**
 * What one string counts toward `maxElements` when it comes out as a Uint8Array: a typed array
 * costs a JS engine about as much as four other small values (V8: ~220 bytes and ~0.5 µs).
 *
 * @example
 * ```ts
 * import { BYTE_STRING_WEIGHT } from "./limits.ts";
 * console.log(BYTE_STRING_WEIGHT); // 4
 * ```
 */
export const BYTE_STRING_WEIGHT = 4;

/**
 * The defaults of {@link DecodeLimits}, the same for the three decoders.
 *
 * @example
 * ```ts
 * import { DEFAULT_LIMITS } from "./limits.ts";
 * console.log(DEFAULT_LIMITS.maxElements); // 5000000
 * ```
 */
export const DEFAULT_LIMITS: Readonly<Required<DecodeLimits>> = Object.freeze({
  maxDepth: 512,
  // What FreezeThaw and Data::Dumper had; Storable's 10 million (counting fewer kinds of values)
  // let one 23 MB frame of 8 million scalar refs cost 1.4 GB and 8 s. See the costs checked in
  // tests/limits.test.ts.
  maxElements: 5_000_000,
  maxStringLength: 64 * 1024 * 1024,
  maxInputSize: 256 * 1024 * 1024,
});

/**
 * Decode limits for a server, which decodes whatever any peer sends on the one event loop every
 * client shares: chosen so that no frame within them holds the loop for more than about 100 ms
 * on a busy 2-core machine, whichever freezer the peer picks. Measured (Deno, Node and Bun, in
 * the worst shapes: a 25,000-key hash, 50,000 empty hashes or arrays, 2 MiB of Data::Dumper
 * `\x{..}` escapes or a FreezeThaw character frame): 25-90 ms.
 *
 * What fits: 50,000 values, so 50,000 numbers, 4,500 rows of 5-key hashes, or 1,250 rows of 20;
 * and 2 MiB of frame (a single string up to that). Raise them where every peer is trusted, for
 * instance with `createStorableFreezer({ maxElements: 1_000_000 })` as the server's serializer.
 *
 * @example
 * ```ts
 * import { SERVER_DECODE_LIMITS } from "./limits.ts";
 * console.log(SERVER_DECODE_LIMITS.maxElements); // 50000
 * ```
 */
export const SERVER_DECODE_LIMITS: Readonly<Required<DecodeLimits>> = Object.freeze({
  maxDepth: 512,
  maxElements: 50_000,
  maxStringLength: 2 * 1024 * 1024,
  maxInputSize: 2 * 1024 * 1024,
});

/**
 * Fills in defaults (and the deprecated names) and validates: each limit must be a number >= 0
 * (`Infinity` allowed). A bad value is a TypeError: it is a programming error, not bad input.
 *
 * @example
 * ```ts
 * import { resolveLimits } from "./limits.ts";
 * resolveLimits({ maxItems: 10 }); // { maxDepth: 512, maxElements: 10, maxStringLength: 67108864, maxInputSize: 268435456 }
 * ```
 */
export function resolveLimits(options: DecodeLimits & DeprecatedLimitNames = {}): Required<DecodeLimits> {
  const r: Required<DecodeLimits> = {
    maxDepth: options.maxDepth ?? DEFAULT_LIMITS.maxDepth,
    maxElements: options.maxElements ?? options.maxItems ?? DEFAULT_LIMITS.maxElements,
    maxStringLength: options.maxStringLength ?? DEFAULT_LIMITS.maxStringLength,
    maxInputSize: options.maxInputSize ?? options.maxInputBytes ?? DEFAULT_LIMITS.maxInputSize,
  };
  for (const k of ["maxDepth", "maxElements", "maxStringLength", "maxInputSize"] as const) {
    const v = r[k];
    if (typeof v !== "number" || !(v >= 0)) throw new TypeError(`bad ${k} option ${String(v)}`);
  }
  return r;
}

/**
 * Checks a decoder's argument: a Uint8Array (a Node Buffer is one), or also a string when
 * `strings` is set. Anything else is a {@link CodecError}, the same error bad bytes give, so
 * callers need one catch for every way a frame can be unreadable. The input's size is checked
 * against `maxInputSize` by the caller, which knows how it measures a string.
 *
 * @example
 * ```ts
 * import { checkInput } from "./limits.ts";
 * checkInput(new Uint8Array(3), "Storable thaw"); // fine
 * try { checkInput(null, "Storable thaw"); } catch (e) { console.log((e as Error).message); }
 * // Storable thaw expects a Uint8Array, got null (at byte 0)
 * ```
 */
export function checkInput(input: unknown, who: string, strings = false): void {
  if (input instanceof Uint8Array || (strings && typeof input === "string")) return;
  throw new CodecError(`${who} expects a Uint8Array${strings ? " or a string" : ""}, got ${describe(input)}`, 0);
}

/**
 * Throws the {@link LimitError} for an input larger than `maxInputSize`.
 *
 * @example
 * ```ts
 * import { checkInputSize } from "./limits.ts";
 * checkInputSize(10, 100, "Storable"); // fine
 * ```
 */
export function checkInputSize(size: number, maxInputSize: number, who: string): void {
  if (size > maxInputSize) {
    throw new LimitError(`${who}: input of ${size} bytes exceeds maxInputSize ${maxInputSize}`, 0);
  }
}

function describe(v: unknown): string {
  if (v === null) return "null";
  const t = typeof v;
  if (t === "undefined") return "undefined";
  if (t !== "object" && t !== "function") return `a ${t}`;
  try {
    // A hostile Proxy may throw from any trap; the error message must still come out.
    const tag = Object.prototype.toString.call(v).slice(8, -1);
    return /^[AEIOU]/.test(tag) ? `an ${tag}` : `a ${tag}`;
  } catch {
    return "an object";
  }
}
