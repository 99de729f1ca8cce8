/**
 * Perl's FreezeThaw text format (CPAN `FreezeThaw` 0.50xx), the IKC freezer named `FreezeThaw`.
 *
 * POE::Filter::Reference calls `FreezeThaw::freeze($message)` and `thaw($frame)`. `freeze` wraps
 * its arguments in a list, so one IKC message is `FrT;@1|<message>`; `thaw` returns that list and
 * IKC keeps its first element. The grammar (the markers FreezeThaw writes):
 *
 * | text                     | value                                                        |
 * | ------------------------ | ------------------------------------------------------------ |
 * | `$<n>\|<n bytes>`        | a string of n bytes (numbers are strings too)                |
 * | `_`                      | undef                                                        |
 * | `@<n>\|` + n items       | array ref                                                    |
 * | `%<2n>\|` + n keys + n values | hash ref (keys sorted)                                  |
 * | `\` + item               | scalar ref / ref to ref                                      |
 * | `/<n>\|<text>`           | regexp, as Perl stringifies it: `(?^i:ab+c)`                 |
 * | `>` + package + item     | blessed ref; package is `><id>\|$<n>\|<name>` or `)<id>\|`   |
 * | `!<last>\|` after `FrT;` | shared refs/cycles: `last+1` empty shells (`{` + package for blessed ones), then their contents (`}` + package for blessed ones), then the value, where `<<i>\|` stands for shell i |
 *
 * ## Strings and characters (checked against Perl 5.36, FreezeThaw 0.5001, POE 1.370)
 *
 * FreezeThaw has no UTF-8 flag and no number type. `freezeString` writes `'$' . length($s) . '|' . $s`,
 * so the count is in Perl *characters*, and the frozen text is one Perl string: if any string in
 * the message is UTF-8 flagged, the whole frozen text is (byte strings in it are upgraded too).
 * POE::Filter::Reference and POE::Driver::SysRW work `use bytes`, so the frame length is in octets
 * and the octets sent are Perl's internal UTF-8. Two kinds of frame therefore reach us:
 *
 * - **byte frames** (no flagged string in the message): counts are octets;
 * - **character frames** (a flagged string somewhere): the frame is UTF-8 and every count is in
 *   code points. Perl's own `thaw` cannot read these (it counts octets: "Extra elements in frozen
 *   structure"); we can. A byte-count parse is tried first; when it fails and the frame is UTF-8,
 *   it is parsed with character counts and every string arrives as a JS string.
 *
 * The other way, Perl's `thaw` only ever sees octets (the filter reads bytes), so no frame can give
 * Perl a character above U+00FF. JS strings are therefore sent as their UTF-8 octets (Perl gets a
 * byte string; `utf8::decode` or `Encode::decode_utf8` gives the characters), and byte frames
 * decode valid UTF-8 back to JS strings (option {@link FreezeThawDecodeOptions.byteStrings}), so a
 * JS string survives a round trip through Perl. `strings: "latin1"` in {@link FreezeThawEncodeOptions}
 * sends one octet per character instead (Perl then holds exactly the same characters; only for text
 * within U+0000..U+00FF). Numbers travel as text and arrive as strings (`1` → `"1"`) unless
 * `numericStrings: "number"`.
 *
 * @module
 */
import { CodecError, LimitError } from "./errors.ts";
import type { Freezer } from "./freezer.ts";
import type { DecodeLimits, DeprecatedLimitNames } from "./limits.ts";
import { blessedClass, PerlRef, PerlRegexp, PerlVString, StorableHook } from "./perl.ts";
import type { PerlInput, PerlValue } from "./perl.ts";
import { MapHashes } from "./map-hash.ts";
import { isAsciiString } from "./text.ts";
import { ByteWriter } from "./text-codec/byte-writer.ts";
import { perlNumber } from "./text-codec/perl-number.ts";
import { blessInto, isPlainHash, isPlainObject, isRefValue, setKey } from "./text-codec/perl-values.ts";
import {
  encodeDepth,
  inputBytes,
  stackLimit,
  textCodec,
  textDecodeOptions,
  withStackLimit,
} from "./text-codec/text-format.ts";
import { TextParser } from "./text-codec/text-parser.ts";
import { type ScalarWriter, writeScalar } from "./text-codec/write-scalar.ts";
import { isAsciiUnits, nameString, type Units } from "./text-codec/units-text.ts";

/**
 * Options of {@link FreezeThawDecoder}: the {@link DecodeLimits} every decoder shares (`maxDepth`,
 * `maxElements`, `maxStringLength`, `maxInputSize`; `maxItems` and `maxInputBytes` are their old,
 * deprecated names here) and how strings and numbers come out.
 *
 * @example
 * ```ts
 * import { FreezeThawDecoder, type FreezeThawDecodeOptions } from "./freezethaw.ts";
 * const opts: FreezeThawDecodeOptions = { byteStrings: "utf8", numericStrings: "number", maxDepth: 64 };
 * const dec = new FreezeThawDecoder(opts);
 * ```
 */
export interface FreezeThawDecodeOptions extends DecodeLimits, DeprecatedLimitNames {
  /**
   * How a string of a byte frame holding non-ASCII bytes is returned (ASCII strings are always JS
   * strings, and so is every string of a character frame):
   * `"utf8"` (default) as a JS string when the bytes are valid UTF-8 (what this encoder writes for a
   * JS string, and what most Perl code holds as text), else a `Uint8Array`;
   * `"bytes"` (or its older name `"auto"`) always as a `Uint8Array`;
   * `"latin1"` as a JS string with one character per byte (Perl's own reading of a byte string).
   * Hash keys and class names are always JS strings: UTF-8 when valid, else Latin-1.
   */
  byteStrings?: "utf8" | "bytes" | "latin1" | "auto";
  /**
   * `"string"` (default): every scalar stays a string, as FreezeThaw stores it.
   * `"number"`: strings that look like Perl's output for a number (`42`, `-7`, `1.5`, `1e+20`)
   * become numbers (integers beyond 2^53 become bigint).
   */
  numericStrings?: "string" | "number";
  /** Reject input without the `FrT;` signature (Perl's thaw only warns). Default true. */
  requireSignature?: boolean;
}

/**
 * Options of {@link FreezeThawEncoder}.
 *
 * @example
 * ```ts
 * import { FreezeThawEncoder } from "./freezethaw.ts";
 * const enc = new FreezeThawEncoder({ maxDepth: 100 });
 * ```
 */
export interface FreezeThawEncodeOptions {
  /** Maximum nesting of arrays, hashes and refs. Default 512. */
  maxDepth?: number;
  /**
   * How a non-ASCII JS string (value, hash key or class name) is written. FreezeThaw carries octets only:
   * `"utf8"` (default) writes its UTF-8 octets: Perl gets a byte string holding UTF-8;
   * `"latin1"` writes one octet per character: Perl gets exactly the same characters, and a
   * character above U+00FF is a {@link CodecError}.
   */
  strings?: "utf8" | "latin1";
}

// Byte values of the markers.
const C_DOLLAR = 0x24; // $
const C_AT = 0x40; // @
const C_PERCENT = 0x25; // %
const C_SLASH = 0x2f; // /
const C_BACKSLASH = 0x5c; // \
const C_UNDERSCORE = 0x5f; // _
const C_LT = 0x3c; // <
const C_GT = 0x3e; // >
const C_RPAREN = 0x29; // )
const C_LBRACE = 0x7b; // {
const C_RBRACE = 0x7d; // }
const C_BANG = 0x21; // !
const C_QUESTION = 0x3f; // ?
const C_AMP = 0x26; // &
const C_STAR = 0x2a; // *
const C_BAR = 0x7c; // |
const SIGNATURE = [0x46, 0x72, 0x54, 0x3b]; // "FrT;"

const utf8Encoder = new TextEncoder();

/**
 * Perl's internal UTF-8 as code points, or undefined when it is not UTF-8. Lax like Perl: surrogate
 * code points are accepted; overlong forms and code points beyond U+10FFFF (which JS cannot hold) are not.
 */
function utf8CodePoints(b: Uint8Array): Uint32Array | undefined {
  const out = new Uint32Array(b.length);
  let n = 0;
  for (let i = 0; i < b.length;) {
    const c = b[i]!;
    if (c < 0x80) {
      out[n++] = c;
      i++;
      continue;
    }
    let need: number, cp: number, min: number;
    if (c >= 0xc2 && c <= 0xdf) {
      need = 1, cp = c & 0x1f, min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
      need = 2, cp = c & 0x0f, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3, cp = c & 0x07, min = 0x10000;
    } else {
      return undefined;
    }
    for (let k = 1; k <= need; k++) {
      const cc = b[i + k];
      if (cc === undefined || (cc & 0xc0) !== 0x80) return undefined;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if (cp < min || cp > 0x10ffff) return undefined;
    out[n++] = cp;
    i += need + 1;
  }
  return out.subarray(0, n);
}

const WRAPPER_RE = /\(\?\^([a-z]*):/y;

/**
 * Splits Perl's regexp stringification `(?^flags:pattern)`, unwrapping qr/$re/ nesting (flagless
 * wrappers, then at most one with flags). One pass over the text however deep the nesting:
 * unwrapping one level at a time made `(?^:` x 100,000 take minutes.
 */
function regexpFromText(text: string): PerlRegexp {
  const ends: number[] = []; // where each leading wrapper's `(?^flags:` ends
  const flagsOf: string[] = [];
  for (let p = 0;;) {
    WRAPPER_RE.lastIndex = p;
    const m = WRAPPER_RE.exec(text);
    if (!m) break;
    p += m[0].length;
    ends.push(p);
    flagsOf.push(m[1]!);
    if (m[1] !== "") break;
  }
  if (ends.length === 0 || text.charCodeAt(text.length - 1) !== 0x29) return new PerlRegexp(text, "");
  // Wrapper d is the first parenthesis opened at depth d, so its closer is where the depth first
  // falls back to d.
  const close = closers(text, ends.length);
  let k = 0;
  while (k < ends.length && close[k] === text.length - 1 - k) k++;
  return k === 0 ? new PerlRegexp(text, "") : new PerlRegexp(text.slice(ends[k - 1], text.length - k), flagsOf[k - 1]);
}

/** For depths 0..n-1, the index of the first parenthesis that closes back to that depth (or -1). */
function closers(p: string, n: number): number[] {
  const out = new Array<number>(n).fill(-1);
  let depth = 0;
  let inClass = false;
  for (let i = 0; i < p.length; i++) {
    const c = p.charCodeAt(i);
    if (c === 0x5c) {
      i++;
    } else if (inClass) {
      if (c === 0x5d) inClass = false;
    } else if (c === 0x5b) {
      inClass = true;
      if (p[i + 1] === "^") i++;
      if (p[i + 1] === "]") i++;
    } else if (c === 0x28) {
      depth++;
    } else if (c === 0x29) {
      depth--;
      if (depth >= 0 && depth < n && out[depth] === -1) out[depth] = i;
    }
  }
  return out;
}

/** Index of the parenthesis closing the one at 0 (skipping escapes and character classes), or -1. */
function matchingParen(p: string): number {
  let depth = 0;
  let inClass = false;
  for (let i = 0; i < p.length; i++) {
    const c = p[i];
    if (c === "\\") {
      i++;
    } else if (inClass) {
      if (c === "]") inClass = false;
    } else if (c === "[") {
      inClass = true;
      if (p[i + 1] === "^") i++;
      if (p[i + 1] === "]") i++;
    } else if (c === "(") {
      depth++;
    } else if (c === ")") {
      depth--;
      if (depth === 0) return i;
    }
  }
  return -1;
}

class Parser extends TextParser<Units> {
  /** Shells of the repeated-data section, or null when the input has none. */
  shells: PerlValue[] | null = null;
  packages = new Map<number, string>();

  /** `b` holds octets (a byte frame) or code points (a character frame: counts are in characters). */
  constructor(b: Units, o: Required<FreezeThawDecodeOptions>) {
    super("FreezeThaw", b, o);
  }

  /** A declared string length against the input and maxStringLength. */
  override checkLength(n: number, what: string, at: number): void {
    super.checkLength(n, what, at);
    if (n > this.b.length - this.pos) this.fail(`truncated input, ${what} of ${n} bytes`, at);
  }

  /** `<digits>|` */
  number(): number {
    const b = this.b;
    const start = this.pos;
    let n = 0;
    let i = start;
    while (i < b.length && b[i]! >= 0x30 && b[i]! <= 0x39) {
      if (i - start >= 15) this.fail("number too long", start);
      n = n * 10 + (b[i]! - 0x30);
      i++;
    }
    if (i === start) this.fail(i >= b.length ? "truncated input, expected a number" : "expected a number", i);
    if (i >= b.length) this.fail("truncated input, expected '|'", i);
    if (b[i] !== C_BAR) this.fail("expected '|' after a number", i);
    this.pos = i + 1;
    return n;
  }

  /** `$<n>|<units>`, the marker already checked. */
  rawString(): Units {
    const start = this.pos;
    this.pos++;
    const n = this.number();
    this.checkLength(n, "string", start);
    const s = this.b.subarray(this.pos, this.pos + n);
    this.pos += n;
    return s;
  }

  expect(byte: number, what: string): void {
    if (this.pos >= this.b.length) this.fail(`truncated input, expected ${what}`);
    if (this.b[this.pos] !== byte) this.fail(`expected ${what}`);
    this.pos++;
  }

  /** `><id>|$<n>|<name>` or `)<id>|` */
  packageName(): string {
    const b = this.b;
    if (this.pos >= b.length) this.fail("truncated input, expected a package");
    const start = this.pos;
    const c = b[this.pos];
    if (c === C_GT) {
      this.pos++;
      const id = this.number();
      if (this.pos >= b.length) this.fail("truncated input, expected a package name");
      if (b[this.pos] !== C_DOLLAR) this.fail("expected a package name string");
      const name = nameString(this.rawString());
      if (name === "") this.fail("empty package name", start);
      this.packages.set(id, name);
      return name;
    }
    if (c === C_RPAREN) {
      this.pos++;
      const id = this.number();
      const name = this.packages.get(id);
      if (name === undefined) this.fail(`unknown package id ${id}`, start);
      return name;
    }
    return this.fail("expected a package ('>' or ')')");
  }

  scalar(depth: number): PerlValue {
    const b = this.b;
    if (this.pos >= b.length) this.fail("truncated input, expected a value");
    this.depth(depth);
    const start = this.pos;
    switch (b[this.pos]) {
      case C_DOLLAR: {
        const s = this.rawString();
        this.count();
        return this.scalarText(s);
      }
      case C_UNDERSCORE:
        this.pos++;
        this.count();
        return null;
      case C_AT: {
        this.pos++;
        const n = this.number();
        this.count();
        const arr: PerlValue[] = [];
        for (let i = 0; i < n; i++) arr.push(this.scalar(depth + 1));
        return arr;
      }
      case C_PERCENT: {
        this.pos++;
        const n = this.number();
        if (n % 2 !== 0) this.fail(`odd number of hash elements (${n})`, start);
        this.count();
        const half = n / 2;
        this.countN(half); // the keys; each value counts itself
        const keys: string[] = [];
        for (let i = 0; i < half; i++) {
          if (this.pos >= b.length) this.fail("truncated input, expected a hash key");
          if (b[this.pos] !== C_DOLLAR) this.fail("hash key is not a string");
          keys.push(nameString(this.rawString()));
        }
        const obj: Record<string, PerlValue> = {};
        for (let i = 0; i < half; i++) setKey(obj, keys[i]!, this.scalar(depth + 1));
        return obj;
      }
      case C_BACKSLASH: {
        this.pos++;
        this.count();
        return new PerlRef(this.scalar(depth + 1));
      }
      case C_SLASH: {
        this.pos++;
        const n = this.number();
        this.checkLength(n, "regexp", start);
        const text = nameString(b.subarray(this.pos, this.pos + n));
        this.pos += n;
        this.count();
        return regexpFromText(text);
      }
      case C_LT: {
        this.pos++;
        const i = this.number();
        if (this.shells === null || i >= this.shells.length) this.fail(`reference to unknown shared item ${i}`, start);
        this.count();
        return this.shells[i]!;
      }
      case C_GT: {
        this.pos++;
        const cls = this.packageName();
        this.count(); // a blessing: chains of them create nothing else
        const v = this.scalar(depth + 1);
        if (!isRefValue(v)) this.fail(`cannot bless a non-reference into ${cls}`, start);
        blessInto(v, cls);
        return v;
      }
      case C_AMP:
        return this.fail("code references cannot be thawed");
      case C_STAR:
        return this.fail("globs cannot be thawed");
      case C_QUESTION:
        return this.fail("safeFreeze cache entries can only be thawed by the process that froze them");
      case C_LBRACE:
      case C_RBRACE:
        return this.fail("allocation marker outside the shared-data section");
      default:
        return this.fail(`unexpected byte 0x${b[this.pos]!.toString(16).padStart(2, "0")}`);
    }
  }

  /** One empty shell of the shared-data section: `@0|`, `%0|`, `\_`, a regexp, optionally `{` + package first. */
  shell(): PerlValue {
    const b = this.b;
    if (this.pos >= b.length) this.fail("truncated input, expected a shared item");
    if (b[this.pos] === C_LBRACE) {
      this.pos++;
      this.packageName(); // Perl's Allocate ignores it; the class comes with the contents
    }
    if (this.pos >= b.length) this.fail("truncated input, expected a shared item");
    const start = this.pos;
    const c = b[this.pos];
    let v: PerlValue;
    if (c === C_AT || c === C_PERCENT) {
      this.pos++;
      if (this.number() !== 0) this.fail("shared item shell is not empty", start);
      v = c === C_AT ? [] : {};
    } else if (c === C_BACKSLASH) {
      this.pos++;
      this.expect(C_UNDERSCORE, "'_' in an empty scalar ref");
      v = new PerlRef(null);
    } else if (c === C_SLASH) {
      v = this.scalar(1);
    } else {
      return this.fail("expected an empty array, hash, scalar ref or regexp");
    }
    this.count();
    return v;
  }

  /** The contents of shell i: a value of the same kind, or `}` + package + value. */
  fill(i: number): void {
    const b = this.b;
    if (this.pos >= b.length) this.fail("truncated input, expected shared item contents");
    const start = this.pos;
    let cls: string | undefined;
    if (b[this.pos] === C_RBRACE) {
      this.pos++;
      cls = this.packageName();
    }
    const v = this.scalar(1);
    const target = this.shells![i]!;
    if (!isRefValue(v)) this.fail("shared item contents are not a reference", start);
    copyContents(target, v, this, start);
    const c = cls ?? blessedClass(v);
    if (c !== undefined) blessInto(target as object, c);
  }
}

function copyContents(target: PerlValue, src: PerlValue, p: Parser, at: number): void {
  if (target === src) return;
  if (Array.isArray(target) && Array.isArray(src)) {
    const items = src.slice();
    target.length = 0;
    for (const x of items) target.push(x);
  } else if (target instanceof PerlRef && src instanceof PerlRef) {
    target.value = src.value;
  } else if (target instanceof PerlRegexp && src instanceof PerlRegexp) {
    target.pattern = src.pattern;
    target.flags = src.flags;
  } else if (
    isPlainHash(target) && isPlainHash(src)
  ) {
    for (const k of Object.keys(src)) setKey(target, k, src[k]!);
  } else {
    p.fail("shared item contents do not match the kind of its shell", at);
  }
}

function decodeOptions(o: FreezeThawDecodeOptions): Required<FreezeThawDecodeOptions> {
  return {
    requireSignature: o.requireSignature ?? true,
    ...textDecodeOptions(o, ["utf8", "bytes", "latin1", "auto"], "utf8"),
  };
}

/**
 * Thaws FreezeThaw text. Strict: anything FreezeThaw's `freeze` would not write ends in a
 * {@link CodecError} naming the byte offset; limits end in a {@link LimitError}.
 *
 * @example
 * ```ts
 * import { FreezeThawDecoder } from "./freezethaw.ts";
 * const dec = new FreezeThawDecoder({ numericStrings: "number" });
 * const msg = dec.decode("FrT;@1|%4|$5|event$6|params$11|poe://K/s/e@1|$2|42");
 * console.log(msg); // { event: "poe://K/s/e", params: [42] }
 * ```
 */
export class FreezeThawDecoder {
  /** The options in effect, defaults filled in. */
  readonly options: Readonly<Required<FreezeThawDecodeOptions>>;

  constructor(options: FreezeThawDecodeOptions = {}) {
    this.options = decodeOptions(options);
  }

  /**
   * Thaws `input` and returns the first value of the frozen list, which is what IKC does with a frame
   * (`null` for an empty list). A string input is taken as the UTF-8 decoding of the bytes.
   */
  decode(input: Uint8Array | string): PerlValue {
    const all = this.decodeAll(input);
    return all.length > 0 ? all[0]! : null;
  }

  /** Thaws `input` and returns every value of the frozen list, like Perl's `thaw` in list context. */
  decodeAll(input: Uint8Array | string): PerlValue[] {
    const b = inputBytes(input, "FreezeThaw", this.options.maxInputSize);
    try {
      return this.parse(b);
    } catch (e) {
      // A character frame (a UTF-8 flagged string was in Perl's message): counts are code points.
      if (!(e instanceof CodecError) || isAsciiUnits(b)) throw e; // a LimitError is no CodecError
      const units = utf8CodePoints(b);
      if (units === undefined) throw e;
      try {
        return this.parse(units);
      } catch (e2) {
        if (e2 instanceof LimitError) throw e2;
        throw e; // report the octet reading's error: that is what Perl's thaw would meet
      }
    }
  }

  private parse(b: Units): PerlValue[] {
    const p: Parser = new Parser(b, this.options);
    try {
      if (
        b.length >= 4 && b[0] === SIGNATURE[0] && b[1] === SIGNATURE[1] && b[2] === SIGNATURE[2] &&
        b[3] === SIGNATURE[3]
      ) {
        p.pos = 4;
      } else if (this.options.requireSignature) {
        p.fail("missing 'FrT;' signature", 0);
      }
      if (p.pos < b.length && b[p.pos] === C_QUESTION) {
        p.fail("safeFreeze output can only be thawed by the process that froze it");
      }
      if (p.pos < b.length && b[p.pos] === C_BANG) {
        p.pos++;
        const start = p.pos;
        const last = p.number();
        if (last + 1 > this.options.maxElements) {
          throw new LimitError(
            `FreezeThaw: ${last + 1} shared items exceed maxElements ${this.options.maxElements}`,
            start,
          );
        }
        const shells: PerlValue[] = [];
        p.shells = shells;
        for (let i = 0; i <= last; i++) shells.push(p.shell());
        for (let i = 0; i <= last; i++) p.fill(i);
      }
      const root = p.scalar(0);
      if (p.pos !== b.length) p.fail("trailing data after the frozen value");
      if (!Array.isArray(root) || blessedClass(root) !== undefined) p.fail("the frozen value is not a list", 4);
      return root;
    } catch (e) {
      throw stackLimit(e, "FreezeThaw", p.pos);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Encoding

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

type Container = PerlValue[] | PerlRef | Record<string, PerlValue>;
type SortedHash = { keys: string[]; keyBytes: Uint8Array[] };

class Emitter implements ScalarWriter {
  readonly w = new ByteWriter();
  /** How often each container was met in the counting pass. */
  readonly seen = new Map<Container, number>();
  /** Shared containers, in the order Perl numbers them (their second sighting). */
  readonly shared: Container[] = [];
  readonly address = new Map<Container, number>();
  readonly sorted = new Map<Record<string, PerlValue>, SortedHash>();
  readonly packages = new Map<string, number>();
  readonly maps = new MapHashes("FreezeThaw");
  private readonly maxDepth: number;

  /** A non-ASCII JS string as the octets to send. */
  readonly text: (s: string) => Uint8Array;

  constructor(maxDepth: number, strings: "utf8" | "latin1") {
    this.maxDepth = maxDepth;
    this.text = strings === "latin1" ? (s) => this.latin1Octets(s) : (s) => utf8Encoder.encode(s);
  }

  latin1Octets(s: string): Uint8Array {
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      if (c > 0xff) {
        this.fail(`character U+${c.toString(16).toUpperCase().padStart(4, "0")} does not fit strings: "latin1"`);
      }
      out[i] = c;
    }
    return out;
  }

  fail(message: string): never {
    throw new CodecError(`FreezeThaw: ${message}`);
  }

  depth(d: number): void {
    if (d > this.maxDepth) throw new LimitError(`FreezeThaw: nesting deeper than maxDepth ${this.maxDepth}`);
  }

  /** Classifies v: a container (tracked for sharing), or a scalar kind. */
  container(v: PerlValue): Container | undefined {
    if (v === null || typeof v !== "object") return undefined;
    if (Array.isArray(v) || v instanceof PerlRef) return v;
    if (v instanceof Uint8Array || v instanceof PerlRegexp || v instanceof PerlVString) return undefined;
    if (v instanceof StorableHook) this.fail(`cannot freeze a Storable hook object (${v.className})`);
    if (v instanceof Map) return this.maps.of(v);
    if (ArrayBuffer.isView(v) || !isPlainObject(v)) {
      this.fail(`cannot freeze a ${(v as object).constructor?.name ?? "non-plain"} object`);
    }
    return v as Record<string, PerlValue>;
  }

  sortedKeys(h: Record<string, PerlValue>): SortedHash {
    let s = this.sorted.get(h);
    if (s === undefined) {
      const keys = Object.keys(h);
      let ascii = true;
      for (const k of keys) if (!isAsciiString(k)) ascii = false;
      if (ascii) {
        keys.sort();
        s = { keys, keyBytes: keys.map((k) => utf8Encoder.encode(k)) }; // ASCII: both encodings agree
      } else {
        // Perl sorts the UTF-8 bytes it receives; byte order is code point order, not UTF-16 order.
        const pairs = keys.map((k) => ({ k, b: this.text(k) }));
        pairs.sort((x, y) => compareBytes(x.b, y.b));
        s = { keys: pairs.map((p) => p.k), keyBytes: pairs.map((p) => p.b) };
      }
      this.sorted.set(h, s);
    }
    return s;
  }

  /** First pass: counts containers the way FreezeThaw's first pass does, not descending into repeats. */
  count(v: PerlValue, d: number): void {
    const c = this.container(v);
    if (c === undefined) {
      this.scalarCheck(v);
      return;
    }
    this.depth(d);
    const n = this.seen.get(c);
    if (n !== undefined) {
      if (!this.address.has(c)) {
        this.address.set(c, this.shared.length);
        this.shared.push(c);
      }
      this.seen.set(c, n + 1);
      return;
    }
    this.seen.set(c, 1);
    if (Array.isArray(c)) {
      for (let i = 0; i < c.length; i++) this.count(c[i], d + 1);
    } else if (c instanceof PerlRef) {
      this.count(c.value, d + 1);
    } else {
      const { keys } = this.sortedKeys(c);
      for (const k of keys) this.count(c[k], d + 1);
    }
  }

  scalarCheck(v: PerlValue): void {
    switch (typeof v) {
      case "string":
      case "number":
      case "bigint":
      case "boolean":
      case "undefined":
        return;
      case "object":
        return;
      default:
        this.fail(`cannot freeze a ${typeof v}`);
    }
  }

  str(bytes: Uint8Array): void {
    this.w.ascii(`$${bytes.length}|`);
    this.w.bytes(bytes);
  }

  asciiStr(s: string): void {
    this.w.ascii(`$${s.length}|${s}`);
  }

  pkg(cls: string): void {
    const id = this.packages.get(cls);
    if (id !== undefined) {
      this.w.ascii(`)${id}|`);
    } else {
      const n = this.packages.size;
      this.packages.set(cls, n);
      this.w.ascii(`>${n}|`);
      this.str(this.text(cls));
    }
  }

  undef(): void {
    this.w.ascii("_");
  }

  string(s: string): void {
    if (isAsciiString(s)) this.asciiStr(s);
    else this.str(this.text(s));
  }

  number(n: number): void {
    this.asciiStr(perlNumber(n));
  }

  bigint(n: bigint): void {
    this.asciiStr(n.toString());
  }

  boolean(b: boolean): void {
    this.asciiStr(b ? "1" : "");
  }

  byteString(b: Uint8Array): void {
    this.str(b);
  }

  emit(v: PerlValue, d: number): void {
    if (writeScalar(v, this)) return;
    const w = this.w;
    if (v instanceof PerlVString) {
      this.emit(v.value, d);
      return;
    }
    if (v instanceof PerlRegexp) {
      // FreezeThaw writes the regexp's stringification and drops any class (it tests is_regexp first).
      const text = this.text(
        v.flags === "" && /^\(\?\^[a-z]*:/.test(v.pattern) && matchingParen(v.pattern) === v.pattern.length - 1
          ? v.pattern
          : `(?^${v.flags}:${v.pattern})`,
      );
      w.ascii(`/${text.length}|`);
      w.bytes(text);
      return;
    }
    const c = this.container(v)!;
    this.depth(d);
    const a = this.address.get(c);
    if (a !== undefined) {
      w.ascii(`<${a}|`);
      return;
    }
    const cls = blessedClass(c);
    if (cls !== undefined) {
      w.ascii(">");
      this.pkg(cls);
    }
    this.contents(c, d);
  }

  contents(c: Container, d: number): void {
    const w = this.w;
    if (Array.isArray(c)) {
      w.ascii(`@${c.length}|`);
      for (let i = 0; i < c.length; i++) this.emit(c[i], d + 1);
    } else if (c instanceof PerlRef) {
      w.ascii("\\");
      this.emit(c.value, d + 1);
    } else {
      const { keys, keyBytes } = this.sortedKeys(c);
      w.ascii(`%${keys.length * 2}|`);
      for (const kb of keyBytes) this.str(kb);
      for (const k of keys) this.emit(c[k], d + 1);
    }
  }

  /** The empty shell FreezeThaw writes for a shared container. */
  shell(c: Container): void {
    const cls = blessedClass(c);
    if (cls !== undefined) {
      this.w.ascii("{");
      this.pkg(cls);
    }
    this.w.ascii(Array.isArray(c) ? "@0|" : c instanceof PerlRef ? "\\_" : "%0|");
  }

  run(values: readonly PerlValue[]): Uint8Array {
    // The outer list is a container of its own, never shared.
    for (const v of values) this.count(v, 1);
    this.w.ascii("FrT;");
    if (this.shared.length > 0) {
      this.w.ascii(`!${this.shared.length - 1}|`);
      for (const c of this.shared) this.shell(c);
      for (const c of this.shared) {
        const cls = blessedClass(c);
        if (cls !== undefined) {
          this.w.ascii("}");
          this.pkg(cls);
        }
        this.contents(c, 1);
      }
    }
    this.w.ascii(`@${values.length}|`);
    for (const v of values) this.emit(v, 1);
    return this.w.result();
  }
}

/**
 * Freezes values into FreezeThaw text, byte for byte what Perl's `FreezeThaw::freeze` writes for
 * the same data (hash keys sorted, shared refs and cycles in a `!` section, packages numbered).
 * JS strings are written as UTF-8 bytes; numbers as Perl prints them (`1.5`, `1e+20`).
 * Values outside the model (functions, symbols, Map, StorableHook...) end in a {@link CodecError}.
 *
 * @example
 * ```ts
 * import { FreezeThawEncoder } from "./freezethaw.ts";
 * const enc = new FreezeThawEncoder();
 * const bytes = enc.encode({ event: "poe://K/s/e", params: [1, "a", null] });
 * console.log(new TextDecoder().decode(bytes));
 * // FrT;@1|%4|$5|event$6|params$11|poe://K/s/e@3|$1|1$1|a_
 * ```
 */
export class FreezeThawEncoder {
  /** The options in effect, defaults filled in. */
  readonly options: Readonly<Required<FreezeThawEncodeOptions>>;

  constructor(options: FreezeThawEncodeOptions = {}) {
    const maxDepth = encodeDepth(options.maxDepth);
    const strings = options.strings ?? "utf8";
    if (strings !== "utf8" && strings !== "latin1") throw new TypeError(`bad strings option ${strings}`);
    this.options = { maxDepth, strings };
  }

  /** Freezes one value as Perl's `freeze($value)` does: a list of one element. */
  encode(value: PerlInput): Uint8Array {
    return this.encodeAll([value]);
  }

  /** Freezes several values as Perl's `freeze(@values)` does. */
  encodeAll(values: readonly PerlInput[]): Uint8Array {
    return withStackLimit(
      "FreezeThaw",
      () => new Emitter(this.options.maxDepth, this.options.strings).run(values as readonly PerlValue[]),
    );
  }
}

const codec = textCodec("FreezeThaw", "FreezeThaw", FreezeThawDecoder, FreezeThawEncoder);

/**
 * Freezes one value as Perl's `FreezeThaw::freeze($value)` does.
 *
 * @example
 * ```ts
 * import { freezeThawFreeze } from "@poe-ikc/ikc";
 * const bytes = freezeThawFreeze({ x: [1, 2] });
 * console.log(new TextDecoder().decode(bytes)); // FrT;@1|%2|$1|x@2|$1|1$1|2
 * ```
 */
export const freezeThawFreeze: (value: PerlInput, options?: FreezeThawEncodeOptions) => Uint8Array = codec.freeze;

/**
 * Thaws FreezeThaw text (bytes, or a string holding their UTF-8 decoding) and returns the first
 * frozen value, as IKC does.
 *
 * @example
 * ```ts
 * import { freezeThawThaw } from "@poe-ikc/ikc";
 * const v = freezeThawThaw("FrT;@1|%2|$1|x@2|$1|1_");
 * console.log(v); // { x: ["1", null] }
 * ```
 */
export const freezeThawThaw: (input: Uint8Array | string, options?: FreezeThawDecodeOptions) => PerlValue = codec.thaw;

/**
 * The IKC freezer `FreezeThaw` with default options.
 *
 * @example
 * ```ts
 * import { freezeThawFreezer } from "@poe-ikc/ikc";
 * const frame = freezeThawFreezer.freeze({ event: "poe://K/s/e", params: "hi" });
 * const msg = freezeThawFreezer.thaw(frame); // { event: "poe://K/s/e", params: "hi" }
 * ```
 */
export const freezeThawFreezer: Freezer = codec.freezer;

/**
 * A `FreezeThaw` freezer with custom decode and encode options, for a connection's `serializer`.
 *
 * @example
 * ```ts
 * import { createFreezeThawFreezer } from "@poe-ikc/ikc";
 * const f = createFreezeThawFreezer({ numericStrings: "number" }, { strings: "latin1" });
 * console.log(f.thaw(f.freeze({ n: 2.5 }))); // { n: 2.5 }
 * ```
 */
export const createFreezeThawFreezer: (
  decodeOptions?: FreezeThawDecodeOptions,
  encodeOptions?: FreezeThawEncodeOptions,
) => Freezer = codec.create;
