/**
 * UTF-8 to text, in the two readings the codecs need (lax and strict), and the checks they use.
 *
 * @module
 */

// ignoreBOM: a leading U+FEFF is part of the text (TextDecoder would drop it by default).
const laxDecoder = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * The bytes decoded as UTF-8 the WHATWG way: each invalid sequence becomes U+FFFD, and a leading
 * U+FEFF is kept.
 *
 * @example
 * ```ts
 * import { utf8DecodeLax } from "./utf8.ts";
 * utf8DecodeLax(new Uint8Array([0xef, 0xbb, 0xbf, 0x61])); // "\ufeffa"
 * ```
 */
export function utf8DecodeLax(b: Uint8Array): string {
  return laxDecoder.decode(b);
}

/**
 * The bytes as text when they are well-formed UTF-8, else undefined. No exception on the way (a
 * fatal TextDecoder's throw per string made a frame of a million non-UTF-8 strings take seconds);
 * the bytes are scanned only when the decoded text holds U+FFFD, which a real one may explain.
 *
 * @example
 * ```ts
 * import { utf8DecodeStrict } from "./utf8.ts";
 * utf8DecodeStrict(new Uint8Array([0xc3, 0xa9])); // "é"
 * utf8DecodeStrict(new Uint8Array([0xe9])); // undefined
 * ```
 */
export function utf8DecodeStrict(b: Uint8Array): string | undefined {
  const s = utf8DecodeLax(b);
  return s.indexOf("\uFFFD") < 0 || isUtf8(b) ? s : undefined;
}

/**
 * Whether the bytes are well-formed UTF-8 (what a fatal TextDecoder accepts).
 *
 * @example
 * ```ts
 * import { isUtf8 } from "./utf8.ts";
 * isUtf8(new Uint8Array([0xed, 0xa0, 0x80])); // false: a surrogate
 * ```
 */
export function isUtf8(b: Uint8Array): boolean {
  const n = b.length;
  for (let i = 0; i < n;) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
    } else if (c >= 0xc2 && c <= 0xdf) {
      if (i + 1 >= n || (b[i + 1]! & 0xc0) !== 0x80) return false;
      i += 2;
    } else if (c >= 0xe0 && c <= 0xef) {
      const c1 = b[i + 1];
      if (c1 === undefined || c1 < (c === 0xe0 ? 0xa0 : 0x80) || c1 > (c === 0xed ? 0x9f : 0xbf)) return false;
      if (i + 2 >= n || (b[i + 2]! & 0xc0) !== 0x80) return false;
      i += 3;
    } else if (c >= 0xf0 && c <= 0xf4) {
      const c1 = b[i + 1];
      if (c1 === undefined || c1 < (c === 0xf0 ? 0x90 : 0x80) || c1 > (c === 0xf4 ? 0x8f : 0xbf)) return false;
      if (i + 3 >= n || (b[i + 2]! & 0xc0) !== 0x80 || (b[i + 3]! & 0xc0) !== 0x80) return false;
      i += 4;
    } else {
      return false;
    }
  }
  return true;
}

/**
 * Whether every UTF-16 unit of `s` is ASCII (below 0x80), so its Latin-1 and UTF-8 bytes agree.
 *
 * @example
 * ```ts
 * import { isAsciiString } from "./utf8.ts";
 * isAsciiString("abc"); // true
 * isAsciiString("é"); // false
 * ```
 */
export function isAsciiString(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 0x80) return false;
  return true;
}
