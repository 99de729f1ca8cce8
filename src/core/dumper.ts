/**
 * The IKC freezer `POE::Component::IKC::Freezer`: Data::Dumper text, read by a parser (never evaluated).
 *
 * The Perl side freezes with `Data::Dumper` (`Purity=1`, `Indent=0`,
 * `Varname='POE::Component::IKC::Freezer::VAR'`) and thaws with `eval`. A frame looks like
 * `$POE::Component::IKC::Freezer::VAR1 = {'event' => 'poe://K/s/e','params' => [1,'a',undef]};`
 * possibly followed by fix-up statements that re-create shared refs and cycles:
 * `$POE::Component::IKC::Freezer::VAR1->{'b'} = $POE::Component::IKC::Freezer::VAR1->{'a'};`.
 *
 * {@link DumperDecoder} accepts the expressions Data::Dumper writes and nothing else:
 *
 * | text                                        | value                                          |
 * | ------------------------------------------- | ---------------------------------------------- |
 * | `undef`                                     | `null`                                         |
 * | `42`, `-7` (unquoted: small integers)       | number (bigint beyond 2^53)                    |
 * | `'text'` (bytes; `\\` and `\'` escaped)     | string if ASCII, else per `byteStrings`        |
 * | `"\x{263a}\n"` (character strings)          | string                                         |
 * | `[...]`, `{'k' => ...}`                     | array, plain object                            |
 * | `\EXPR`, `\do{my $o}`                       | {@link PerlRef}                                |
 * | `bless( EXPR, 'Class' )`, `do{\(my $o = EXPR)}` | blessed value / blessed scalar ref         |
 * | `qr/pattern/flags`                          | {@link PerlRegexp}                             |
 * | `v1.2.3`                                    | {@link PerlVString}                            |
 * | `do{my $o}`                                 | placeholder, filled by a fix-up statement      |
 * | `PATH = PATH;`, `PATH = \PATH;` fix-ups     | shared refs and cycles (identity kept)         |
 * | `sub { "DUMMY" }`, `\*::GLOB`               | {@link CodecError}: code and globs cannot travel |
 *
 * {@link DumperEncoder} writes the same dialect so Perl's `eval` rebuilds the value: byte strings in
 * single quotes, non-ASCII text in double quotes with `\x{...}` / `\N{U+..}` escapes (so Perl gets a
 * UTF-8 flagged string), integers up to 10 characters unquoted and other numbers quoted, as Data::Dumper does.
 *
 * @module
 */
import { CodecError, LimitError } from "./errors.ts";
import type { Freezer } from "./freezer.ts";
import type { DecodeLimits, DeprecatedLimitNames } from "./limits.ts";
import { blessedClass, PerlRef, PerlRegexp, PerlVString, StorableHook } from "./perl.ts";
import type { PerlInput, PerlValue } from "./perl.ts";
import { MapHashes } from "./map-hash.ts";
import { isAsciiString, latin1Decode, latin1Encode } from "./text.ts";
import { ByteWriter } from "./text-codec/byte-writer.ts";
import { numericValue } from "./text-codec/numeric-value.ts";
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
import { nameString } from "./text-codec/units-text.ts";

/**
 * The `Varname` IKC's freezer gives Data::Dumper; frames assign `$POE::Component::IKC::Freezer::VAR1`.
 *
 * @example
 * ```ts
 * import { IKC_FREEZER_VARNAME } from "./dumper.ts";
 * console.log(`$${IKC_FREEZER_VARNAME}1`); // $POE::Component::IKC::Freezer::VAR1
 * ```
 */
export const IKC_FREEZER_VARNAME = "POE::Component::IKC::Freezer::VAR";

/**
 * Options of {@link DumperDecoder}: the {@link DecodeLimits} every decoder shares (`maxDepth`,
 * `maxElements`, `maxStringLength`, `maxInputSize`; `maxItems` and `maxInputBytes` are their old,
 * deprecated names here) and how strings and numbers come out.
 *
 * @example
 * ```ts
 * import { DumperDecoder, type DumperDecodeOptions } from "./dumper.ts";
 * const opts: DumperDecodeOptions = { varname: "VAR", byteStrings: "utf8" };
 * const v = new DumperDecoder(opts).decode("$VAR1 = ['caf\xc3\xa9'];");
 * ```
 */
export interface DumperDecodeOptions extends DecodeLimits, DeprecatedLimitNames {
  /** Data::Dumper's `Varname`: the text must assign `$<varname>1`. Default {@link IKC_FREEZER_VARNAME}. */
  varname?: string;
  /**
   * How a single-quoted string holding non-ASCII bytes (a Perl byte string) is returned:
   * `"auto"` (default) as a `Uint8Array`, as the value model says for byte strings;
   * `"utf8"` as a JS string when the bytes are valid UTF-8, else a `Uint8Array`;
   * `"latin1"` as a JS string with one character per byte.
   * Double-quoted strings (Perl character strings) are always JS strings. Hash keys and class
   * names are always JS strings: UTF-8 when valid, else Latin-1.
   */
  byteStrings?: "auto" | "utf8" | "latin1";
  /**
   * Quoted strings: `"string"` (default) keeps them strings (Data::Dumper quotes floats: `'1.5'`);
   * `"number"` turns those that look like Perl's output for a number into numbers.
   * Unquoted integers are numbers either way.
   */
  numericStrings?: "string" | "number";
}

/**
 * Options of {@link DumperEncoder}.
 *
 * @example
 * ```ts
 * import { DumperEncoder } from "./dumper.ts";
 * const enc = new DumperEncoder({ varname: "VAR", maxDepth: 64 });
 * console.log(new TextDecoder().decode(enc.encode([1]))); // $VAR1 = [1];
 * ```
 */
export interface DumperEncodeOptions {
  /** Data::Dumper's `Varname`. Default {@link IKC_FREEZER_VARNAME}. */
  varname?: string;
  /** Maximum nesting of arrays, hashes and refs. Default 512. */
  maxDepth?: number;
}

const VARNAME_RE = /^[A-Za-z_][A-Za-z0-9_]*(?:::[A-Za-z_][A-Za-z0-9_]*)*$/;
const REGEXP_FLAGS_RE = /^[msixpnadlu]*$/;

const hasOwn = (o: object, k: string) => Object.prototype.hasOwnProperty.call(o, k);

// Bytes
const SQ = 0x27; // '
const DQ = 0x22; // "
const BS = 0x5c; // \
const DOLLAR = 0x24;
const AT = 0x40;
const LBRACK = 0x5b;
const RBRACK = 0x5d;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LPAREN = 0x28;
const RPAREN = 0x29;
const COMMA = 0x2c;
const SEMI = 0x3b;
const EQ = 0x3d;
const GT = 0x3e;
const MINUS = 0x2d;
const DOT = 0x2e;
const SLASH = 0x2f;
const STAR = 0x2a;

const isDigit = (c: number | undefined) => c !== undefined && c >= 0x30 && c <= 0x39;
const isWordChar = (c: number | undefined) =>
  c !== undefined && ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f);
/** The value of an ASCII hex digit (checked with isHex). */
const hexValue = (c: number) => (c <= 0x39 ? c - 0x30 : (c | 0x20) - 0x57);
const isHex = (c: number | undefined) =>
  c !== undefined && ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66));

/** A slot a fix-up statement can read or assign. */
interface Place {
  get(): PerlValue;
  set(v: PerlValue): void;
}

class Parser extends TextParser<Uint8Array> {
  root: PerlValue = null;
  private readonly rootName: Uint8Array;

  constructor(b: Uint8Array, o: Required<DumperDecodeOptions>) {
    super("Data::Dumper", b, o);
    this.rootName = latin1Encode(`$${o.varname}1`); // ASCII: VARNAME_RE
  }

  ws(): void {
    const b = this.b;
    while (this.pos < b.length) {
      const c = b[this.pos];
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) this.pos++;
      else break;
    }
  }

  need(what: string): number {
    if (this.pos >= this.b.length) this.fail(`truncated input, expected ${what}`);
    return this.b[this.pos]!;
  }

  expect(c: number, what: string): void {
    if (this.need(what) !== c) this.fail(`expected ${what}`);
    this.pos++;
  }

  /** Whether the input continues with `text` (ASCII); consumes it if so. */
  eat(text: string): boolean {
    const b = this.b;
    if (this.pos + text.length > b.length) return false;
    for (let i = 0; i < text.length; i++) if (b[this.pos + i] !== text.charCodeAt(i)) return false;
    this.pos += text.length;
    return true;
  }

  expectText(text: string): void {
    const start = this.pos;
    if (!this.eat(text)) {
      if (this.pos + text.length > this.b.length) {
        const rest = this.b.length - this.pos;
        let prefix = true;
        for (let i = 0; i < rest; i++) if (this.b[this.pos + i] !== text.charCodeAt(i)) prefix = false;
        if (prefix) this.fail(`truncated input, expected '${text}'`, start);
      }
      this.fail(`expected '${text}'`, start);
    }
  }

  /** A keyword: the text not followed by a word character. */
  eatWord(word: string): boolean {
    const start = this.pos;
    if (!this.eat(word)) return false;
    if (isWordChar(this.b[this.pos])) {
      this.pos = start;
      return false;
    }
    return true;
  }

  eatRootName(): boolean {
    const n = this.rootName;
    const b = this.b;
    if (this.pos + n.length > b.length) return false;
    for (let i = 0; i < n.length; i++) if (b[this.pos + i] !== n[i]) return false;
    if (isWordChar(b[this.pos + n.length]) || b[this.pos + n.length] === 0x3a) return false;
    this.pos += n.length;
    return true;
  }

  document(): PerlValue {
    this.ws();
    if (!this.eatRootName()) {
      this.fail(this.pos >= this.b.length ? "truncated input" : `expected ${latin1Decode(this.rootName)}`);
    }
    this.ws();
    this.expectAssign();
    this.ws();
    this.root = this.expr(0);
    this.ws();
    this.expect(SEMI, "';'");
    for (;;) {
      this.ws();
      if (this.pos >= this.b.length) break;
      this.fixup();
    }
    return this.root;
  }

  expectAssign(): void {
    this.expect(EQ, "'='");
    const c = this.b[this.pos];
    if (c === EQ || c === GT || c === 0x7e) this.fail("expected '='", this.pos - 1);
  }

  // -- values -------------------------------------------------------------------------------

  expr(d: number): PerlValue {
    this.depth(d);
    const start = this.pos;
    const c = this.need("a value");
    switch (c) {
      case SQ: {
        const bytes = this.singleQuoted();
        this.count();
        return this.scalarText(bytes);
      }
      case DQ: {
        const s = this.doubleQuoted();
        this.count();
        if (this.numbers) {
          const n = numericValue(s);
          if (n !== undefined) return n;
        }
        return s;
      }
      case LBRACK:
        return this.array(d);
      case LBRACE:
        return this.hash(d);
      case BS: {
        this.pos++;
        this.ws();
        if (this.need("a value") === STAR) this.fail("globs cannot be thawed");
        const v = this.expr(d + 1);
        this.count();
        return new PerlRef(v);
      }
      case STAR:
        return this.fail("globs cannot be thawed");
    }
    if (c === MINUS || isDigit(c)) return this.numberOrVString();
    if (c === 0x76 /* v */ && isDigit(this.b[this.pos + 1])) return this.vstring();
    if (this.eatWord("undef")) {
      this.count();
      return null;
    }
    if (this.eatWord("do")) return this.doBlock(d, start);
    if (this.eatWord("bless")) return this.bless(d, start);
    if (this.eat("qr/")) return this.regexp();
    if (this.eatWord("sub")) this.fail("code references cannot be thawed", start);
    return this.fail("unexpected input");
  }

  /** `'...'`: only `\\` and `\'` are escapes, as in Perl. */
  singleQuoted(): Uint8Array {
    const b = this.b;
    const start = this.pos;
    let i = ++this.pos;
    let escapes = false;
    for (;;) {
      if (i >= b.length) this.fail("truncated input, unterminated string", start);
      const c = b[i];
      if (c === SQ) break;
      if (c === BS && (b[i + 1] === BS || b[i + 1] === SQ)) {
        escapes = true;
        i += 2;
      } else {
        i++;
      }
    }
    this.checkLength(i - this.pos, "string", start);
    let out: Uint8Array;
    if (!escapes) {
      out = b.subarray(this.pos, i);
    } else {
      out = new Uint8Array(i - this.pos);
      let n = 0;
      for (let j = this.pos; j < i; j++) {
        if (b[j] === BS && (b[j + 1] === BS || b[j + 1] === SQ)) j++;
        out[n++] = b[j]!;
      }
      out = out.subarray(0, n);
    }
    this.pos = i + 1;
    return out;
  }

  /** `"..."` with the escapes Data::Dumper (XS and pure Perl, Useqq on or off) writes; no interpolation. */
  doubleQuoted(): string {
    const b = this.b;
    const start = this.pos;
    this.pos++;
    let s = "";
    let run = this.pos;
    // Escaped characters gather here and join the string a chunk at a time: one string
    // concatenation per escape made 8 million \x{e9} take seconds and a rope of 8 million nodes.
    const units: number[] = [];
    const flushUnits = () => {
      if (units.length > 0) {
        s += String.fromCharCode.apply(null, units);
        units.length = 0;
      }
    };
    const flush = () => {
      if (run < this.pos) {
        flushUnits();
        s += latin1Decode(b.subarray(run, this.pos));
      }
    };
    for (;;) {
      if (this.pos >= b.length) this.fail("truncated input, unterminated string", start);
      const c = b[this.pos]!;
      if (c === DQ) {
        flush();
        flushUnits();
        this.pos++;
        this.checkLength(s.length, "string", start);
        return s;
      }
      if (c === DOLLAR || c === AT) this.fail("interpolation in a double-quoted string");
      if (c >= 0x80) this.fail("raw non-ASCII byte in a double-quoted string");
      if (c !== BS) {
        this.pos++;
        continue;
      }
      flush();
      const at = this.pos;
      this.pos++;
      const e = this.need("an escape");
      this.pos++;
      let cp: number;
      switch (e) {
        case 0x6e:
          cp = 0x0a;
          break; // n
        case 0x74:
          cp = 0x09;
          break; // t
        case 0x72:
          cp = 0x0d;
          break; // r
        case 0x66:
          cp = 0x0c;
          break; // f
        case 0x62:
          cp = 0x08;
          break; // b
        case 0x61:
          cp = 0x07;
          break; // a
        case 0x65:
          cp = 0x1b;
          break; // e
        case 0x78: { // x
          if (b[this.pos] === LBRACE) {
            this.pos++;
            cp = this.hexDigits(8, at);
            this.expect(RBRACE, "'}' closing \\x{");
          } else {
            cp = 0;
            for (let k = 0; k < 2 && isHex(b[this.pos]); k++) {
              cp = cp * 16 + hexValue(b[this.pos++]!);
            }
          }
          break;
        }
        case 0x4e: { // N{U+hex}
          this.expectText("{U+");
          cp = this.hexDigits(8, at);
          this.expect(RBRACE, "'}' closing \\N{U+");
          break;
        }
        default:
          if (e >= 0x30 && e <= 0x37) {
            cp = e - 0x30;
            for (let k = 0; k < 2 && b[this.pos]! >= 0x30 && b[this.pos]! <= 0x37; k++) {
              cp = cp * 8 + (b[this.pos++]! - 0x30);
            }
          } else if (e < 0x80 && !isWordChar(e) && e >= 0x20) {
            cp = e; // \" \\ \$ \@ and other punctuation stand for themselves
          } else {
            this.fail("unsupported escape in a double-quoted string", at);
          }
      }
      if (cp > 0x10ffff) this.fail("code point beyond U+10FFFF", at);
      if (cp <= 0xffff) units.push(cp);
      else units.push(0xd7c0 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
      if (units.length >= 4096) flushUnits();
      run = this.pos;
    }
  }

  hexDigits(max: number, at: number): number {
    const b = this.b;
    let n = 0;
    let k = 0;
    while (isHex(b[this.pos])) {
      if (++k > max) this.fail("code point too large", at);
      n = n * 16 + hexValue(b[this.pos++]!);
    }
    if (k === 0) this.fail(this.pos >= b.length ? "truncated input, expected hex digits" : "expected hex digits");
    return n;
  }

  numberOrVString(): PerlValue {
    const b = this.b;
    const start = this.pos;
    if (isDigit(b[this.pos])) {
      // v-strings may also be written without the v when they have two dots: 1.2.3
      let i = this.pos;
      while (isDigit(b[i])) i++;
      if (b[i] === DOT && isDigit(b[i + 1])) {
        let j = i + 1;
        while (isDigit(b[j])) j++;
        if (b[j] === DOT && isDigit(b[j + 1])) return this.vstring();
      }
    }
    if (b[this.pos] === MINUS) this.pos++;
    const digits = this.pos;
    while (isDigit(b[this.pos])) this.pos++;
    const n = this.pos - digits;
    if (n === 0) this.fail(this.pos >= b.length ? "truncated input, expected digits" : "expected digits");
    if (n > 1 && b[digits] === 0x30) this.fail("number with a leading zero", start);
    if (n > 20) this.fail("integer too long", start);
    const c = b[this.pos];
    if (c === DOT || c === 0x65 || c === 0x45 || c === 0x5f || isWordChar(c)) {
      this.fail("unquoted numbers other than integers are not written by Data::Dumper", start);
    }
    const text = latin1Decode(b.subarray(start, this.pos));
    this.count();
    const v = Number(text);
    return Number.isSafeInteger(v) ? (v === 0 ? 0 : v) : BigInt(text);
  }

  vstring(): PerlValue {
    const b = this.b;
    const start = this.pos;
    if (b[this.pos] === 0x76) this.pos++;
    const parts: number[] = [];
    for (;;) {
      const from = this.pos;
      let n = 0;
      while (isDigit(b[this.pos])) {
        n = n * 10 + (b[this.pos]! - 0x30);
        if (n > 0x10ffff) this.fail("v-string component beyond U+10FFFF", from);
        this.pos++;
      }
      if (this.pos === from) this.fail("expected digits in a v-string");
      parts.push(n);
      if (b[this.pos] === DOT && isDigit(b[this.pos + 1])) this.pos++;
      else break;
    }
    if (isWordChar(b[this.pos]) || b[this.pos] === DOT) this.fail("malformed v-string", start);
    this.count();
    let value = "";
    for (const p of parts) value += String.fromCodePoint(p);
    return new PerlVString(latin1Decode(b.subarray(start, this.pos)), value);
  }

  array(d: number): PerlValue[] {
    this.pos++;
    this.count();
    const arr: PerlValue[] = [];
    this.ws();
    if (this.need("']'") === RBRACK) {
      this.pos++;
      return arr;
    }
    for (;;) {
      arr.push(this.expr(d + 1));
      this.ws();
      const c = this.need("',' or ']'");
      this.pos++;
      if (c === RBRACK) return arr;
      if (c !== COMMA) this.fail("expected ',' or ']'", this.pos - 1);
      this.ws();
    }
  }

  key(): string {
    const c = this.need("a hash key");
    if (c === SQ) return nameString(this.singleQuoted());
    if (c === DQ) return this.doubleQuoted();
    return this.fail("expected a quoted hash key");
  }

  hash(d: number): Record<string, PerlValue> {
    this.pos++;
    this.count();
    const obj: Record<string, PerlValue> = {};
    this.ws();
    if (this.need("'}'") === RBRACE) {
      this.pos++;
      return obj;
    }
    for (;;) {
      this.count(); // the key; the value counts itself
      const k = this.key();
      this.ws();
      this.expectText("=>");
      this.ws();
      setKey(obj, k, this.expr(d + 1));
      this.ws();
      const c = this.need("',' or '}'");
      this.pos++;
      if (c === RBRACE) return obj;
      if (c !== COMMA) this.fail("expected ',' or '}'", this.pos - 1);
      this.ws();
    }
  }

  /** `do{my $o}` (placeholder) or `do{\(my $o = EXPR)}` (scalar ref, written for blessed ones). */
  doBlock(d: number, start: number): PerlValue {
    this.ws();
    this.expect(LBRACE, "'{' after do");
    this.ws();
    if (this.eatWord("my")) {
      this.ws();
      this.expectText("$o");
      if (isWordChar(this.b[this.pos])) this.fail("expected '$o'");
      this.ws();
      this.expect(RBRACE, "'}' closing do{my $o}");
      this.count();
      return null;
    }
    if (this.need("'\\(my $o = ...)'") !== BS) this.fail("expected 'my $o' or '\\(my $o = ...)' in a do block", start);
    this.pos++;
    this.ws();
    this.expect(LPAREN, "'('");
    this.ws();
    if (!this.eatWord("my")) this.fail("expected 'my'");
    this.ws();
    this.expectText("$o");
    if (isWordChar(this.b[this.pos])) this.fail("expected '$o'");
    this.ws();
    this.expectAssign();
    this.ws();
    const v = this.expr(d + 1);
    this.ws();
    this.expect(RPAREN, "')'");
    this.ws();
    this.expect(RBRACE, "'}'");
    this.count();
    return new PerlRef(v);
  }

  bless(d: number, start: number): PerlValue {
    this.count(); // a blessing: nested ones create nothing else
    this.ws();
    this.expect(LPAREN, "'(' after bless");
    this.ws();
    const v = this.expr(d + 1);
    this.ws();
    this.expect(COMMA, "','");
    this.ws();
    const c = this.need("a class name");
    const at = this.pos;
    let cls: string;
    if (c === SQ) cls = nameString(this.singleQuoted());
    else if (c === DQ) cls = this.doubleQuoted();
    else return this.fail("expected a quoted class name");
    if (cls === "") this.fail("empty class name", at);
    this.ws();
    this.expect(RPAREN, "')' closing bless");
    if (!isRefValue(v)) this.fail("cannot bless a non-reference", start);
    blessInto(v, cls);
    return v;
  }

  /** `qr/PATTERN/FLAGS`, after `qr/`. Undoes Data::Dumper's `\/` and `${\q($)}` escapes. */
  regexp(): PerlRegexp {
    const b = this.b;
    const start = this.pos - 3;
    let p = "";
    // Plain runs are appended whole: one string per character cost tens of bytes per byte.
    let run = this.pos;
    for (;;) {
      if (this.pos >= b.length) this.fail("truncated input, unterminated qr//", start);
      const c = b[this.pos]!;
      if (c !== SLASH && c !== BS && c !== DOLLAR) {
        this.pos++;
        continue;
      }
      if (run < this.pos) p += latin1Decode(b.subarray(run, this.pos));
      if (c === SLASH) break;
      if (c === BS) {
        const n = b[this.pos + 1];
        if (n === undefined) this.fail("truncated input, unterminated qr//", start);
        if (n === SLASH) p += "/";
        else p += "\\" + String.fromCharCode(n);
        this.pos += 2;
      } else if (c === DOLLAR) {
        if (this.eat("${\\q($)}")) {
          p += "$";
        } else {
          const n = b[this.pos + 1];
          if (n !== RPAREN && n !== 0x7c && n !== SLASH) this.fail("interpolation in qr//");
          p += "$";
          this.pos++;
        }
      }
      run = this.pos;
    }
    this.checkLength(p.length, "regexp", start);
    this.pos++;
    const from = this.pos;
    while (this.pos < b.length && b[this.pos]! >= 0x61 && b[this.pos]! <= 0x7a) this.pos++;
    const flags = latin1Decode(b.subarray(from, this.pos));
    if (!REGEXP_FLAGS_RE.test(flags)) this.fail(`unknown regexp flags '${flags}'`, from);
    if (isWordChar(b[this.pos])) this.fail("malformed regexp flags", from);
    this.count();
    return new PerlRegexp(p, flags);
  }

  // -- fix-up statements --------------------------------------------------------------------

  fixup(): void {
    const target = this.path(1, true);
    this.ws();
    this.expectAssign();
    this.ws();
    let v: PerlValue;
    if (this.need("a path") === BS) {
      // A ref to a slot (`\$VAR1->[0][0]`): JS cannot alias a slot, so it becomes a ref to a copy.
      this.pos++;
      this.ws();
      v = new PerlRef(this.path(1, false).get());
      this.count();
    } else {
      v = this.path(1, false).get();
    }
    this.ws();
    this.expect(SEMI, "';'");
    target.set(v);
  }

  /** `$VAR1->[0]{'k'}`, `${$VAR1->[0]}->{'k'}`... as Data::Dumper names slots. */
  path(d: number, assign: boolean): Place {
    this.depth(d);
    const b = this.b;
    const start = this.pos;
    let place: Place;
    if (this.eat("${")) {
      this.ws();
      const inner = this.path(d + 1, false);
      this.ws();
      this.expect(RBRACE, "'}' closing ${...}");
      const ref = inner.get();
      if (!(ref instanceof PerlRef)) this.fail("dereferencing a value that is not a scalar ref", start);
      place = { get: () => ref.value, set: (v) => (ref.value = v) };
    } else if (this.need("a path") === DOLLAR && this.eatRootName()) {
      place = {
        get: () => this.root,
        set: () => this.fail("assignment to the root variable", start),
      };
      if (assign && b[this.pos] !== MINUS) this.fail("assignment to the root variable", start);
    } else {
      return this.fail(`expected a path starting with ${latin1Decode(this.rootName)}`);
    }
    let first = true;
    for (;;) {
      let c = b[this.pos];
      if (c === MINUS && b[this.pos + 1] === GT) {
        this.pos += 2;
        c = this.need("'[' or '{'");
        if (c !== LBRACK && c !== LBRACE) this.fail("expected '[' or '{' after '->'");
      } else if (first || (c !== LBRACK && c !== LBRACE)) {
        // `$VAR1[0]` or `${...}{k}` would name another variable: Data::Dumper always writes the first '->'.
        if (c === LBRACK || c === LBRACE) this.fail("expected '->'");
        break;
      }
      first = false;
      this.depth(d + 1);
      const at = this.pos;
      const container = place.get();
      if (c === LBRACK) {
        this.pos++;
        this.ws();
        const from = this.pos;
        while (isDigit(b[this.pos])) this.pos++;
        if (this.pos === from) {
          this.fail(this.pos >= b.length ? "truncated input, expected an index" : "expected an index");
        }
        if (this.pos - from > 15) this.fail("index too large", from);
        const idx = Number(latin1Decode(b.subarray(from, this.pos)));
        this.ws();
        this.expect(RBRACK, "']'");
        if (!Array.isArray(container)) this.fail("indexing a value that is not an array", at);
        if (idx >= container.length) this.fail(`index ${idx} beyond the array`, at);
        place = { get: () => container[idx]!, set: (v) => (container[idx] = v) };
      } else {
        this.pos++;
        this.ws();
        const k = this.key();
        this.ws();
        this.expect(RBRACE, "'}'");
        if (!isPlainHash(container)) this.fail("key lookup in a value that is not a hash", at);
        if (!hasOwn(container, k)) this.fail(`no key '${k}' in the hash`, at);
        place = { get: () => container[k]!, set: (v) => setKey(container, k, v) };
      }
    }
    return place;
  }
}

function decodeOptions(o: DumperDecodeOptions): Required<DumperDecodeOptions> {
  const r = { varname: o.varname ?? IKC_FREEZER_VARNAME, ...textDecodeOptions(o, ["auto", "utf8", "latin1"], "auto") };
  if (!VARNAME_RE.test(r.varname)) throw new TypeError(`bad varname option ${r.varname}`);
  return r;
}

/**
 * Parses the Data::Dumper text IKC's freezer writes, without evaluating it. Anything outside the
 * dialect Data::Dumper writes ends in a {@link CodecError} naming the byte offset; limits end in a
 * {@link LimitError}.
 *
 * @example
 * ```ts
 * import { DumperDecoder } from "./dumper.ts";
 * const dec = new DumperDecoder();
 * const v = dec.decode(
 *   "$POE::Component::IKC::Freezer::VAR1 = {'self' => {}};" +
 *   "$POE::Component::IKC::Freezer::VAR1->{'self'} = $POE::Component::IKC::Freezer::VAR1;",
 * ) as { self: unknown };
 * console.log(v.self === v); // true
 * ```
 */
export class DumperDecoder {
  /** The options in effect, defaults filled in. */
  readonly options: Readonly<Required<DumperDecodeOptions>>;

  constructor(options: DumperDecodeOptions = {}) {
    this.options = decodeOptions(options);
  }

  /** Parses one frame. A string input is taken as the UTF-8 decoding of the bytes. */
  decode(input: Uint8Array | string): PerlValue {
    const p: Parser = new Parser(inputBytes(input, "Data::Dumper", this.options.maxInputSize), this.options);
    try {
      return p.document();
    } catch (e) {
      throw stackLimit(e, "Data::Dumper", p.pos);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Encoding

const ESCAPES: Record<number, string> = {
  0x0a: "\\n",
  0x09: "\\t",
  0x0d: "\\r",
  0x0c: "\\f",
  0x08: "\\b",
  0x07: "\\a",
  0x1b: "\\e",
};

/**
 * A JS string as a Perl literal: single quotes when ASCII (as Data::Dumper), else double quotes
 * where every non-ASCII character is an escape. `\N{U+..}` makes Perl flag the result as UTF-8
 * even when every character is below 256 (`\x{e9}` alone would give a byte string).
 */
function quote(s: string): string {
  if (isAsciiString(s)) return `'${s.replace(/[\\']/g, "\\$&")}'`;
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const cp = s.codePointAt(i)!;
    if (cp > 0xffff) i++;
    if (cp === 0x22 || cp === 0x5c || cp === 0x24 || cp === 0x40) out += "\\" + String.fromCharCode(cp);
    else if (cp >= 0x20 && cp < 0x7f) out += String.fromCharCode(cp);
    else if (cp < 0x80) out += ESCAPES[cp] ?? `\\x{${cp.toString(16)}}`;
    else if (cp <= 0xff) out += `\\N{U+${cp.toString(16).toUpperCase().padStart(2, "0")}}`;
    else out += `\\x{${cp.toString(16)}}`;
  }
  return out + '"';
}

/** Data::Dumper's rule: integers of up to 10 characters are written bare, others quoted. */
function integerLiteral(text: string): string {
  return text.length <= 10 ? text : `'${text}'`;
}

const CODE_BLOCK_RE = /\(\?\??\{|\(\*\{/;

/** The pattern of a qr// literal Perl will `eval`: nothing may interpolate or run code. */
function regexpLiteral(re: PerlRegexp, fail: (m: string) => never): string {
  const p = re.pattern;
  if (typeof p !== "string" || typeof re.flags !== "string") fail("malformed PerlRegexp");
  if (!REGEXP_FLAGS_RE.test(re.flags)) fail(`unsupported regexp flags '${re.flags}'`);
  if (CODE_BLOCK_RE.test(p)) fail("regexps with code blocks cannot be frozen");
  let out = "";
  for (let i = 0; i < p.length; i++) {
    let cp = p.codePointAt(i)!;
    if (cp > 0xffff) i++;
    if (cp === 0x5c) {
      if (i + 1 >= p.length) fail("regexp pattern ends with a backslash");
      cp = p.codePointAt(++i)!;
      if (cp > 0xffff) i++;
      if (cp >= 0x80) {
        out += `\\x{${cp.toString(16)}}`;
      } else if (/[ULQEul]/.test(String.fromCharCode(cp))) {
        fail(`regexp escape \\${String.fromCharCode(cp)} changes case at eval time and cannot be frozen`);
      } else {
        out += "\\" + String.fromCharCode(cp);
      }
    } else if (cp === 0x2f) {
      out += "\\/";
    } else if (cp === 0x24) {
      // `$` would interpolate: Data::Dumper writes `${\q($)}`, which is itself subscripted when a
      // `{`, `[` or `->` follows (Data::Dumper's bug), so those get the equivalent `(?:$)`.
      const n = p[i + 1];
      if (n === undefined || n === ")" || n === "|") out += "$";
      else if (n === "{" || n === "[" || n === "-") out += "(?:$)";
      else out += "${\\q($)}";
    } else if (cp === 0x40) {
      out += "\\@";
    } else if (cp >= 0x80) {
      out += `\\x{${cp.toString(16)}}`;
    } else {
      out += String.fromCharCode(cp);
    }
  }
  return `qr/${out}/${re.flags}`;
}

const VSTRING_RE = /^(?:v[0-9]+(?:\.[0-9]+)*|[0-9]+\.[0-9]+(?:\.[0-9]+)+)$/;

type RefLike = PerlValue[] | PerlRef | PerlRegexp | Record<string, PerlValue>;

class Emitter implements ScalarWriter {
  readonly w = new ByteWriter();
  /** The path where each ref was first written. */
  readonly seen = new Map<RefLike, string>();
  /** Fix-up statements, in the order Data::Dumper writes them. */
  readonly post: string[] = [];
  readonly maps = new MapHashes("Data::Dumper");
  private readonly maxDepth: number;

  constructor(maxDepth: number) {
    this.maxDepth = maxDepth;
  }

  fail(message: string): never {
    throw new CodecError(`Data::Dumper: ${message}`);
  }

  undef(): void {
    this.w.ascii("undef");
  }

  string(s: string): void {
    this.w.ascii(quote(s));
  }

  number(n: number): void {
    if (Number.isSafeInteger(n)) this.w.ascii(integerLiteral(n === 0 ? "0" : String(n)));
    else this.w.ascii(`'${perlNumber(n)}'`);
  }

  bigint(n: bigint): void {
    this.w.ascii(integerLiteral(n.toString()));
  }

  boolean(b: boolean): void {
    this.w.ascii(b ? "1" : "''");
  }

  /** A byte string in single quotes, where only `'` and `\\` are escaped. */
  byteString(v: Uint8Array): void {
    const w = this.w;
    w.reserve(v.length + 2);
    w.byte(SQ);
    for (let i = 0; i < v.length; i++) {
      const c = v[i]!;
      if (c === SQ || c === BS) w.byte(BS);
      w.byte(c);
    }
    w.byte(SQ);
  }

  dump(v: PerlValue, name: string, d: number): void {
    if (writeScalar(v, this)) return;
    const w = this.w;
    if (v instanceof PerlVString) {
      if (typeof v.vstring !== "string" || !VSTRING_RE.test(v.vstring)) this.fail(`malformed v-string literal`);
      w.ascii(v.vstring);
      return;
    }
    if (v instanceof StorableHook) this.fail(`cannot freeze a Storable hook object (${v.className})`);
    if (v instanceof Map) v = this.maps.of(v);
    if (!(Array.isArray(v) || v instanceof PerlRef || v instanceof PerlRegexp)) {
      if (ArrayBuffer.isView(v) || !isPlainObject(v)) {
        this.fail(`cannot freeze a ${(v as object).constructor?.name ?? "non-plain"} object`);
      }
    }
    const ref = v as RefLike;
    const first = this.seen.get(ref);
    if (first !== undefined) {
      // Data::Dumper's Purity placeholders, replaced by a fix-up statement after the value.
      w.ascii(Array.isArray(ref) ? "[]" : ref instanceof PerlRef || ref instanceof PerlRegexp ? "do{my $o}" : "{}");
      this.post.push(`${name} = ${first}`);
      return;
    }
    if (d > this.maxDepth) throw new LimitError(`Data::Dumper: nesting deeper than maxDepth ${this.maxDepth}`);
    this.seen.set(ref, name);
    let cls = blessedClass(ref);
    if (ref instanceof PerlRegexp && cls === "Regexp") cls = undefined;
    if (cls !== undefined) w.ascii("bless( ");
    if (Array.isArray(ref)) {
      const mname = /^\\?[%@*$][^{].*[\]}]$/.test(name) ? name : name + "->";
      w.ascii("[");
      for (let i = 0; i < ref.length; i++) {
        if (i > 0) w.ascii(",");
        this.dump(ref[i], `${mname}[${i}]`, d + 1);
      }
      w.ascii("]");
    } else if (ref instanceof PerlRef) {
      const inner = `\${${name}}`;
      if (cls !== undefined) {
        w.ascii("do{\\(my $o = ");
        this.dump(ref.value, inner, d + 1);
        w.ascii(")}");
      } else {
        w.ascii("\\");
        this.dump(ref.value, inner, d + 1);
      }
    } else if (ref instanceof PerlRegexp) {
      w.ascii(regexpLiteral(ref, (m) => this.fail(m)));
    } else {
      const mname = /^\\?[%@*$][^{].*[\]}]$/.test(name) ? name : name + "->";
      w.ascii("{");
      let i = 0;
      for (const k of Object.keys(ref)) {
        if (i++ > 0) w.ascii(",");
        const qk = quote(k);
        w.ascii(qk);
        w.ascii(" => ");
        this.dump(ref[k], `${mname}{${qk}}`, d + 1);
      }
      w.ascii("}");
    }
    if (cls !== undefined) w.ascii(`, ${quote(cls)} )`);
  }

  run(value: PerlValue, varname: string): Uint8Array {
    const root = `$${varname}1`;
    this.w.ascii(`${root} = `);
    this.dump(value, root, 0);
    this.w.ascii(";");
    for (const p of this.post) this.w.ascii(`${p};`);
    return this.w.result();
  }
}

/**
 * Writes a value as IKC's freezer does (`Data::Dumper` with `Purity=1`, `Indent=0`), so the Perl
 * side's `eval` rebuilds it: shared refs and cycles become fix-up statements, blessed values
 * `bless( ..., 'Class' )`. Hash keys keep their JS order. Values outside the model
 * (functions, symbols, Map, StorableHook...) end in a {@link CodecError}.
 *
 * @example
 * ```ts
 * import { DumperEncoder } from "./dumper.ts";
 * const enc = new DumperEncoder();
 * const msg: Record<string, unknown> = { event: "poe://K/s/e", params: [1, "a", null] };
 * console.log(new TextDecoder().decode(enc.encode(msg as never)));
 * // $POE::Component::IKC::Freezer::VAR1 = {'event' => 'poe://K/s/e','params' => [1,'a',undef]};
 * ```
 */
export class DumperEncoder {
  /** The options in effect, defaults filled in. */
  readonly options: Readonly<Required<DumperEncodeOptions>>;

  constructor(options: DumperEncodeOptions = {}) {
    const varname = options.varname ?? IKC_FREEZER_VARNAME;
    const maxDepth = encodeDepth(options.maxDepth);
    if (!VARNAME_RE.test(varname)) throw new TypeError(`bad varname option ${varname}`);
    this.options = { varname, maxDepth };
  }

  /** Writes one value. */
  encode(value: PerlInput): Uint8Array {
    return withStackLimit(
      "Data::Dumper",
      () => new Emitter(this.options.maxDepth).run(value as PerlValue, this.options.varname),
    );
  }
}

const codec = textCodec("POE::Component::IKC::Freezer", "Data::Dumper", DumperDecoder, DumperEncoder);

/**
 * Writes one value as IKC's `POE::Component::IKC::Freezer::freeze` does.
 *
 * @example
 * ```ts
 * import { dumperFreeze } from "@poe-ikc/ikc";
 * console.log(new TextDecoder().decode(dumperFreeze({ x: [1, "é"] })));
 * // $POE::Component::IKC::Freezer::VAR1 = {'x' => [1,"\N{U+E9}"]};
 * ```
 */
export const dumperFreeze: (value: PerlInput, options?: DumperEncodeOptions) => Uint8Array = codec.freeze;

/**
 * Parses what `POE::Component::IKC::Freezer::freeze` wrote (bytes, or a string holding their UTF-8
 * decoding) without evaluating it.
 *
 * @example
 * ```ts
 * import { dumperThaw } from "@poe-ikc/ikc";
 * const v = dumperThaw("$POE::Component::IKC::Freezer::VAR1 = {'n' => 5,'f' => '1.5'};");
 * console.log(v); // { n: 5, f: "1.5" }
 * ```
 */
export const dumperThaw: (input: Uint8Array | string, options?: DumperDecodeOptions) => PerlValue = codec.thaw;

/**
 * The IKC freezer `POE::Component::IKC::Freezer` (Data::Dumper text) with default options.
 *
 * @example
 * ```ts
 * import { dumperFreezer } from "@poe-ikc/ikc";
 * const frame = dumperFreezer.freeze({ event: "poe://K/s/e", params: "hi" });
 * const msg = dumperFreezer.thaw(frame); // { event: "poe://K/s/e", params: "hi" }
 * ```
 */
export const dumperFreezer: Freezer = codec.freezer;

/**
 * A `POE::Component::IKC::Freezer` freezer with custom decode and encode options, for a
 * connection's `serializer`.
 *
 * @example
 * ```ts
 * import { createDumperFreezer } from "@poe-ikc/ikc";
 * const f = createDumperFreezer({ numericStrings: "number", maxDepth: 64 });
 * console.log(f.thaw(f.freeze({ n: 2.5 }))); // { n: 2.5 }
 * ```
 */
export const createDumperFreezer: (
  decodeOptions?: DumperDecodeOptions,
  encodeOptions?: DumperEncodeOptions,
) => Freezer = codec.create;
