/**
 * Text from the units a text decoder reads: octets of a byte frame, or code points of a
 * character frame (FreezeThaw's counts are in characters when Perl froze a UTF-8 flagged string).
 *
 * @module
 */
import { latin1Decode, utf8DecodeStrict } from "../text.ts";

/**
 * What a text decoder reads: octets, or code points.
 *
 * @example
 * ```ts
 * import type { Units } from "./units-text.ts";
 * const u: Units = new Uint32Array([0x263a]);
 * ```
 */
export type Units = Uint8Array | Uint32Array;

/**
 * Whether every unit is ASCII.
 *
 * @example
 * ```ts
 * import { isAsciiUnits } from "./units-text.ts";
 * isAsciiUnits(new Uint8Array([0x61, 0xe9])); // false
 * ```
 */
export function isAsciiUnits(b: Units): boolean {
  for (let i = 0; i < b.length; i++) if (b[i]! >= 0x80) return false;
  return true;
}

/**
 * Units below 0x100 as text, one character each (short runs built directly, longer ones in chunks).
 *
 * @example
 * ```ts
 * import { unitsLatin1 } from "./units-text.ts";
 * unitsLatin1(new Uint8Array([0x6b, 0x65, 0x79])); // "key"
 * ```
 */
export function unitsLatin1(b: Units): string {
  if (b instanceof Uint8Array) return latin1Decode(b);
  let s = "";
  for (let i = 0; i < b.length; i += 4096) {
    s += String.fromCharCode.apply(null, b.subarray(i, i + 4096) as unknown as number[]);
  }
  return s;
}

/**
 * Code points (surrogates included, as Perl allows them) as a JS string.
 *
 * @example
 * ```ts
 * import { codePointString } from "./units-text.ts";
 * codePointString(new Uint32Array([0x263a, 0x1f600])); // "☺😀"
 * ```
 */
export function codePointString(u: Uint32Array): string {
  // UTF-16 units a chunk at a time through fromCharCode (String.fromCodePoint is several times slower).
  const units = new Uint16Array(Math.min(u.length, 4096) * 2);
  let s = "";
  let n = 0;
  for (let i = 0; i < u.length; i++) {
    const cp = u[i]!;
    if (cp <= 0xffff) {
      units[n++] = cp;
    } else {
      units[n++] = 0xd7c0 + (cp >> 10);
      units[n++] = 0xdc00 + (cp & 0x3ff);
    }
    if (n >= 8190) {
      s += String.fromCharCode.apply(null, units.subarray(0, n) as unknown as number[]);
      n = 0;
    }
  }
  return n > 0 ? s + String.fromCharCode.apply(null, units.subarray(0, n) as unknown as number[]) : s;
}

/**
 * Text for hash keys and class names: code points as they are, octets as UTF-8 when valid, else
 * one character per byte.
 *
 * @example
 * ```ts
 * import { nameString } from "./units-text.ts";
 * nameString(new Uint8Array([0xc3, 0xa9])); // "é"
 * nameString(new Uint8Array([0xe9])); // "é" (Latin-1)
 * ```
 */
export function nameString(b: Units): string {
  if (isAsciiUnits(b)) return unitsLatin1(b);
  if (b instanceof Uint32Array) return codePointString(b);
  return utf8DecodeStrict(b) ?? latin1Decode(b);
}
