/**
 * Latin-1 (ISO-8859-1) both ways: one byte is one UTF-16 unit below 0x100. Perl's byte strings
 * (names, keys, negotiation lines) read this way.
 *
 * @module
 */

const fromCharCode = String.fromCharCode;
const CHUNK = 0x1000;

/**
 * Node's, Bun's and Deno's Buffer#latin1Slice works on any Uint8Array and is a native Latin-1
 * decode; used only when present and proven right on all 256 byte values. (TextDecoder("latin1")
 * is windows-1252 per WHATWG, not ISO-8859-1.)
 */
const nativeLatin1: ((this: Uint8Array, s: number, e: number) => string) | undefined = (() => {
  try {
    const f = (globalThis as { Buffer?: { prototype?: { latin1Slice?: unknown } } }).Buffer?.prototype?.latin1Slice;
    if (typeof f !== "function") return undefined;
    const probe = new Uint8Array(260);
    for (let i = 0; i < 256; i++) probe[i + 3] = i;
    const out = f.call(probe.subarray(3), 0, 256);
    if (typeof out !== "string" || out.length !== 256) return undefined;
    for (let i = 0; i < 256; i++) if (out.charCodeAt(i) !== i) return undefined;
    return f as (this: Uint8Array, s: number, e: number) => string;
  } catch {
    return undefined;
  }
})();

/**
 * Whether {@link latin1Decode} runs natively here (else a TextDecoder is the faster way to read
 * long ASCII runs).
 *
 * @example
 * ```ts
 * import { HAS_NATIVE_LATIN1 } from "./latin1.ts";
 * console.log(HAS_NATIVE_LATIN1); // true on Node, Bun and Deno (Buffer#latin1Slice)
 * ```
 */
export const HAS_NATIVE_LATIN1: boolean = nativeLatin1 !== undefined;

/**
 * Bytes `start` to `end` of `b` as text, one character per byte. Linear: a native slice where the
 * runtime has one, else chunks of 4096 characters (never one string concatenation per byte).
 *
 * @example
 * ```ts
 * import { latin1Decode } from "./latin1.ts";
 * latin1Decode(new Uint8Array([0x49, 0x4b, 0x43, 0xe9])); // "IKCé"
 * latin1Decode(new Uint8Array([0x61, 0x62, 0x63]), 1, 3); // "bc"
 * ```
 */
export function latin1Decode(b: Uint8Array, start = 0, end: number = b.length): string {
  const n = end - start;
  if (n <= 16) {
    let out = "";
    for (let i = start; i < end; i++) out += fromCharCode(b[i]!);
    return out;
  }
  if (nativeLatin1 !== undefined) return nativeLatin1.call(b, start, end);
  let out = "";
  for (let i = start; i < end; i += CHUNK) {
    out += fromCharCode.apply(null, b.subarray(i, Math.min(i + CHUNK, end)) as unknown as number[]);
  }
  return out;
}

/**
 * Text as Latin-1 bytes, one byte per UTF-16 unit. A unit above 0xFF keeps its low byte: check
 * with {@link isLatin1String} first where that must not happen.
 *
 * @example
 * ```ts
 * import { latin1Encode } from "./latin1.ts";
 * latin1Encode("OK\r\n"); // Uint8Array [0x4f, 0x4b, 0x0d, 0x0a]
 * ```
 */
export function latin1Encode(s: string): Uint8Array {
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/**
 * Whether every UTF-16 unit of `s` fits one Latin-1 byte (is below 0x100).
 *
 * @example
 * ```ts
 * import { isLatin1String } from "./latin1.ts";
 * isLatin1String("é"); // true
 * isLatin1String("☺"); // false
 * ```
 */
export function isLatin1String(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0xff) return false;
  return true;
}
