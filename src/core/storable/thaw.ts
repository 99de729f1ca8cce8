/**
 * Storable reader: turns Perl `nfreeze` / `freeze` output into JavaScript values
 * (see the table in `perl.ts`).
 *
 * Tag bookkeeping mirrors Perl's `retrieve`: every item that Perl "SEEN"s gets the next
 * slot in `seen`, so `SX_OBJECT <tag>` back references (shared refs, cycles) resolve to
 * the very same JS object. A reference to a hash or array is the JS object itself; a
 * reference to anything else is a {@link PerlRef}, cached per referent so that two refs
 * to one Perl scalar give one PerlRef instance.
 *
 * @module
 */
import { CodecError, LimitError } from "../errors.ts";
import { BYTE_STRING_WEIGHT, checkInput, checkInputSize, type DecodeLimits, resolveLimits } from "../limits.ts";
import { PERL_CLASS, PerlRef, PerlRegexp, type PerlValue, PerlVString, StorableHook } from "../perl.ts";
import { HAS_NATIVE_LATIN1, latin1Decode, utf8DecodeLax } from "../text.ts";
import { SEEN_CHUNK, SeenTable } from "./seen-table.ts";

/**
 * Options for {@link thaw} and {@link StorableDecoder}: the {@link DecodeLimits} (`maxDepth`,
 * `maxElements`, `maxStringLength`, `maxInputSize`; defaults in `DEFAULT_LIMITS`, limits.ts)
 * and how strings and numbers come out.
 *
 * @example
 * ```ts
 * import { thaw, type ThawOptions } from "@poe-ikc/ikc";
 * const opts: ThawOptions = { maxDepth: 64, bytes: "bytes", numericStrings: "number" };
 * const v = thaw(new Uint8Array([5, 11, 2, 0, 0, 0, 1, 10, 3, 50, 46, 53]), opts); // [2.5]
 * ```
 */
export interface ThawOptions extends DecodeLimits {
  /**
   * Strings without Perl's UTF-8 flag: `"auto"` (default) gives a JS string when ASCII-only,
   * otherwise a Uint8Array; `"string"` always a Latin-1 JS string; `"bytes"` always a Uint8Array.
   */
  bytes?: "auto" | "string" | "bytes";
  /**
   * `"string"` (default): scalars stored as strings stay strings (network order stores doubles
   * and integers beyond 32 bits as strings, e.g. `"2.5"`). `"number"`: strings in canonical Perl
   * number form become numbers (integers beyond 2^53 become bigint; `"Inf"`, `"-Inf"`, `"NaN"` too).
   */
  numericStrings?: "string" | "number";
}

const MODE_AUTO = 0;
const MODE_STRING = 1;
const MODE_BYTES = 2;

const EMPTY = new Uint8Array(0);
/** Tag flag: a reference whose referent is a container (so a ref to it is a PerlRef). */
const RV_CONTAINER = 1;
/** Arrays longer than this are allocated at their length rather than grown. */
const PREALLOCATE_ABOVE = 8192;

/** Tag flag: seen.get(tag) is the PerlRef referent() made for the scalar at tag + 1. */
const OWN_REF = 2;
/** What a Uint8Array string counts beyond the 1 its slot was counted. */
const BYTES_EXTRA = BYTE_STRING_WEIGHT - 1;
const MAX_SAFE_HI = 0x1fffff; // |hi| bound under which hi * 2^32 + lo stays exact

/**
 * A reusable Storable reader with fixed options. `decode` is not reentrant but one
 * decoder can be used for any number of images.
 *
 * @example
 * ```ts
 * import { StorableDecoder } from "@poe-ikc/ikc";
 * const dec = new StorableDecoder({ maxDepth: 100 });
 * // nfreeze({a => [1, 2]}) from Perl:
 * const bytes = new Uint8Array([5, 11, 3, 0, 0, 0, 1, 4, 2, 0, 0, 0, 2, 8, 129, 8, 130, 0, 0, 0, 1, 97]);
 * console.log(dec.decode(bytes)); // { a: [1, 2] }
 * ```
 */
export class StorableDecoder {
  private readonly maxDepth: number;
  private readonly maxElements: number;
  private readonly maxStringLength: number;
  private readonly maxInputSize: number;
  private readonly mode: number;
  private readonly numbers: boolean;

  // Per-image state.
  private buf: Uint8Array = EMPTY;
  private pos = 0;
  private end = 0;
  private readonly seen: SeenTable = new SeenTable();
  /**
   * Per tag: RV_CONTAINER, OWN_REF. A byte per tag instead of a Map of tags: an image of
   * millions of small refs would otherwise spend most of its time and memory in that Map.
   */
  private tagFlags: Uint8Array = EMPTY;
  /** The PerlRef made for the root's scalar referent (tag 0), which has no tag of its own. */
  private rootRef: PerlRef | null = null;
  /** PerlRefs made later for back references to a scalar, by the scalar's tag (rare). */
  private refCache: Map<number, PerlRef> | null = null;
  private classes: string[] = [];
  private depth = 0;
  private elements = 0;
  /** Native little-endian image: lengths are little-endian. */
  private le = false;
  /** Byte order of SX_INTEGER / SX_DOUBLE (native numbers; x86 order in network images). */
  private numLe = true;
  private ivSize = 8;
  private nvSize = 8;
  private view: DataView | null = null;

  /** Makes a decoder; the limits in `options` bound what one image may cost. */
  constructor(options: ThawOptions = {}) {
    const limits = resolveLimits(options);
    this.maxDepth = limits.maxDepth;
    this.maxElements = limits.maxElements;
    this.maxStringLength = limits.maxStringLength;
    this.maxInputSize = limits.maxInputSize;
    const b = options.bytes ?? "auto";
    this.mode = b === "string" ? MODE_STRING : b === "bytes" ? MODE_BYTES : MODE_AUTO;
    this.numbers = options.numericStrings === "number";
  }

  /**
   * Decodes one Storable image (network or native order; a leading `pst0` file magic is
   * accepted too). Throws a {@link CodecError} (with the byte offset) on malformed input
   * and a {@link LimitError} when a limit is exceeded.
   *
   * @example
   * ```ts
   * import { StorableDecoder } from "@poe-ikc/ikc";
   * const v = new StorableDecoder().decode(new Uint8Array([5, 11, 10, 3, 97, 98, 99])); // nfreeze(\"abc")
   * console.log(v); // PerlRef { value: "abc", weak: false }
   * ```
   */
  decode(bytes: Uint8Array): PerlValue {
    checkInput(bytes, "Storable thaw");
    checkInputSize(bytes.length, this.maxInputSize, "Storable");
    this.buf = bytes;
    this.pos = 0;
    this.end = bytes.length;
    nativeTrusted = true;
    this.seen.clear();
    this.rootRef = null;
    this.refCache = null;
    this.classes = [];
    this.depth = 0;
    this.elements = 0;
    this.le = false;
    this.numLe = true;
    this.ivSize = 8;
    this.nvSize = 8;
    this.view = null;
    try {
      this.header();
      this.count1(this.pos);
      const root = this.referent(-1, false);
      if (this.pos !== this.end) {
        throw new CodecError(`${this.end - this.pos} bytes of trailing garbage after the root item`, this.pos);
      }
      return root;
    } catch (e) {
      if (e instanceof RangeError) {
        throw new LimitError(
          `JavaScript engine limit hit (nesting too deep or value too large): ${e.message}`,
          this.pos,
          {
            cause: e,
          },
        );
      }
      throw e;
    } finally {
      const flags = this.tagFlags;
      if (flags.length > 0) {
        if (flags.length > 65536) this.tagFlags = EMPTY; // do not keep a big image's table
        else flags.fill(0, 0, Math.min(flags.length, this.seen.length));
      }
      this.buf = EMPTY;
      this.seen.clear();
      this.rootRef = null;
      this.refCache = null;
      this.classes = [];
      this.view = null;
    }
  }

  // ---- low level reads ------------------------------------------------------------

  /** Throws: `what` would read past the end of the image. */
  private truncated(at: number, what: string): never {
    throw new CodecError(`truncated or corrupt input: ${what} runs past the end of the data`, at);
  }

  /** Reads one byte, a marker or a length. */
  private byte(): number {
    const p = this.pos;
    if (p >= this.end) this.truncated(p, "a marker byte");
    this.pos = p + 1;
    return this.buf[p];
  }

  /** 4-byte length in the image's byte order (network unless native little-endian). */
  private u32(): number {
    const p = this.pos;
    if (p + 4 > this.end) this.truncated(p, "a 4-byte length");
    const b = this.buf;
    this.pos = p + 4;
    return this.le
      ? (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24)) >>> 0
      : ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
  }

  /** 4-byte value always in network order (object tags, SX_NETINT). */
  private netU32(): number {
    const p = this.pos;
    if (p + 4 > this.end) this.truncated(p, "a 4-byte integer");
    const b = this.buf;
    this.pos = p + 4;
    return ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
  }

  /** 8-byte length (SX_LOBJECT): network order is two big-endian halves, high first. */
  private u64(): number {
    const p = this.pos;
    if (p + 8 > this.end) this.truncated(p, "an 8-byte length");
    const hi = this.le ? this.readU32At(p + 4, true) : this.readU32At(p, false);
    const lo = this.le ? this.readU32At(p, true) : this.readU32At(p + 4, false);
    this.pos = p + 8;
    return hi * 4294967296 + lo;
  }

  /** An unsigned 32-bit integer at `p`, in the image's byte order. */
  private readU32At(p: number, le: boolean): number {
    const b = this.buf;
    return le
      ? (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24)) >>> 0
      : ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
  }

  /** A DataView over the input, made on first use (only doubles need it). */
  private dataView(): DataView {
    return (this.view ??= new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength));
  }

  /** Checks a declared byte length against the input and the string limit; returns the start. */
  private take(len: number, what: string): number {
    const p = this.pos;
    if (len > this.maxStringLength) {
      throw new LimitError(`${what} of ${len} bytes exceeds maxStringLength ${this.maxStringLength}`, p);
    }
    if (len > this.end - p) this.truncated(p, `${what} of ${len} bytes`);
    this.pos = p + len;
    return p;
  }

  /** Counts `n` values about to be created (a container's elements, a hook's list). */
  private countElements(n: number, at: number): void {
    this.elements += n;
    if (this.elements > this.maxElements) this.tooMany(at);
  }

  /** Counts one value created outside any container slot (a referent, a blessing, a hook part). */
  private count1(at: number): void {
    if (++this.elements > this.maxElements) this.tooMany(at);
  }

  /** Throws: the image holds more than maxElements values. */
  private tooMany(at: number): never {
    throw new LimitError(`more than maxElements ${this.maxElements} values in one image`, at);
  }

  /** Sets flag `f` on seen-table entry `tag` (the table grows by doubling). */
  private flag(tag: number, f: number): void {
    let a = this.tagFlags;
    if (tag >= a.length) {
      const grown = new Uint8Array(Math.max(256, tag + 1, a.length * 2));
      grown.set(a);
      this.tagFlags = a = grown;
    }
    a[tag] |= f;
  }

  /** One level deeper, bounded by maxDepth. */
  private enter(at: number): void {
    if (++this.depth > this.maxDepth) {
      throw new LimitError(`nesting deeper than maxDepth ${this.maxDepth}`, at);
    }
  }

  // ---- header ----------------------------------------------------------------------

  /** Reads the header: network order, or the native byte order and sizes it names. */
  private header(): void {
    const b = this.buf;
    if (this.end === 0) throw new CodecError("empty input: not a Storable image", 0);
    // Files written by store()/nstore() carry the "pst0" magic; frozen strings do not.
    if (this.end >= 4 && b[0] === 0x70 && b[1] === 0x73 && b[2] === 0x74 && b[3] === 0x30) this.pos = 4;
    const at = this.pos;
    const first = this.byte();
    const major = first >> 1;
    if (major !== 2) {
      throw new CodecError(
        `not a Storable image (first byte 0x${
          first.toString(16).padStart(2, "0")
        }: major version ${major}, expected 2)`,
        at,
      );
    }
    const minor = this.byte();
    // Network order: nothing more. Such images never hold native numbers; if one does,
    // read it the way an x86 Perl would (little-endian).
    if ((first & 1) === 1) return;
    const boLen = this.byte();
    const boAt = this.pos;
    if (boLen + 3 + (minor >= 2 ? 1 : 0) > this.end - boAt) this.truncated(boAt, "the native header");
    const bo = latin1Decode(b, boAt, boAt + boLen);
    this.pos = boAt + boLen;
    if (bo === "12345678") {
      this.le = true;
      this.ivSize = 8;
    } else if (bo === "1234") {
      this.le = true;
      this.ivSize = 4;
    } else if (bo === "87654321") {
      this.numLe = false;
      this.ivSize = 8;
    } else if (bo === "4321") {
      this.numLe = false;
      this.ivSize = 4;
    } else {
      throw new CodecError(`unsupported native byte order "${bo}"`, boAt);
    }
    const intSize = this.byte();
    this.byte(); // sizeof(long)
    this.byte(); // sizeof(char *)
    this.nvSize = minor >= 2 ? this.byte() : 8;
    if (intSize !== 4) throw new CodecError(`unsupported native int size ${intSize}`, boAt + boLen);
  }

  // ---- items -------------------------------------------------------------------------

  /** One item in value position (an array element, a hash value, a referent's content). */
  private item(): PerlValue {
    const at = this.pos;
    if (at >= this.end) this.truncated(at, "an item");
    const op = this.buf[at];
    this.pos = at + 1;
    const seen = this.seen;
    const t = seen.tail; // appended to as in the class note of SeenTable
    switch (op) {
      case 10: // SX_SCALAR
        return this.str(this.byte(), false);
      case 3: // SX_HASH
        return this.hash(this.u32(), -1, undefined, at);
      case 4: // SX_REF
        return this.ref(false);
      case 8: { // SX_BYTE
        const v = this.byte() - 128;
        (t.length < SEEN_CHUNK ? t : seen.next()).push(v);
        return v;
      }
      case 2: // SX_ARRAY
        return this.array(this.u32(), -1, undefined, at);
      case 23: // SX_UTF8STR
        return this.str(this.byte(), true);
      case 9: { // SX_NETINT
        const v = this.netU32() | 0;
        (t.length < SEEN_CHUNK ? t : seen.next()).push(v);
        return v;
      }
      case 5: // SX_UNDEF
      case 14: // SX_SV_UNDEF (in arrays: nonexistent element)
      case 31: // SX_SVUNDEF_ELEM
        (t.length < SEEN_CHUNK ? t : seen.next()).push(null);
        return null;
      case 1: // SX_LSCALAR
        return this.str(this.u32(), false);
      case 24: // SX_LUTF8STR
        return this.str(this.u32(), true);
      case 0: // SX_OBJECT
        return this.backref(this.netU32(), at);
      case 15: // SX_SV_YES
      case 34: // SX_BOOLEAN_TRUE
        (t.length < SEEN_CHUNK ? t : seen.next()).push(true);
        return true;
      case 16: // SX_SV_NO
      case 35: // SX_BOOLEAN_FALSE
        (t.length < SEEN_CHUNK ? t : seen.next()).push(false);
        return false;
      case 25: // SX_FLAG_HASH
        return this.flagHash(-1, undefined, at);
      case 20: // SX_OVERLOAD
        return this.ref(false);
      case 27: // SX_WEAKREF
      case 28: // SX_WEAKOVERLOAD
        return this.ref(true);
      case 17: // SX_BLESS
      case 18: // SX_IX_BLESS
        return this.blessedItem(this.blessPrefix(op, at));
      case 19: // SX_HOOK
        return this.hook(-1, false, at);
      case 32: // SX_REGEXP
        return this.regexp(-1, undefined);
      case 29: // SX_VSTRING
        return this.vstring(this.byte());
      case 30: // SX_LVSTRING
        return this.vstring(this.u32());
      case 6: // SX_INTEGER
        return this.integer();
      case 7: // SX_DOUBLE
        return this.double();
      case 33: // SX_LOBJECT
        return this.lobject(-1, undefined, at, false);
      case 11:
        throw new CodecError("tied arrays are not supported (SX_TIED_ARRAY)", at);
      case 12:
        throw new CodecError("tied hashes are not supported (SX_TIED_HASH)", at);
      case 13:
        throw new CodecError("tied scalars are not supported (SX_TIED_SCALAR)", at);
      case 21:
        throw new CodecError("references to tied hash elements are not supported (SX_TIED_KEY)", at);
      case 22:
        throw new CodecError("references to tied array elements are not supported (SX_TIED_IDX)", at);
      case 26:
        throw new CodecError("code references are not supported (SX_CODE)", at);
      default:
        throw new CodecError(`unknown Storable opcode ${op}`, at);
    }
  }

  /** String scalar of `len` bytes, UTF-8 flagged or not. */
  private str(len: number, utf8: boolean): PerlValue {
    const s = this.take(len, "string");
    const e = s + len;
    const b = this.buf;
    let v: PerlValue;
    if (utf8) {
      v = utf8Decode(b, s, e);
      if (this.numbers && len <= 64) v = numericValue(v);
    } else if (this.mode === MODE_AUTO) {
      const a = asciiDecode(b, s, len);
      if (a === undefined) {
        this.countElements(BYTES_EXTRA, s);
        v = b.slice(s, e);
      } else {
        v = this.numbers && len <= 64 ? numericValue(a) : a;
      }
    } else if (this.mode === MODE_STRING) {
      v = latin1Decode(b, s, e);
      if (this.numbers && len <= 64) v = numericValue(v);
    } else {
      v = this.numbers && len <= 64 && isAscii(b, s, e) ? numericValue(latin1Decode(b, s, e)) : b;
      if (typeof v === "string" || v === b) {
        this.countElements(BYTES_EXTRA, s);
        v = b.slice(s, e);
      }
    }
    const seen = this.seen;
    const t = seen.tail;
    (t.length < SEEN_CHUNK ? t : seen.next()).push(v);
    return v;
  }

  /** SX_REF and friends in value position: the reference gets a tag, then its referent. */
  private ref(weak: boolean): PerlValue {
    const seen = this.seen;
    const tag = seen.length;
    const t = seen.tail;
    (t.length < SEEN_CHUNK ? t : seen.next()).push(null);
    return this.referent(tag, weak);
  }

  /**
   * The referent of a reference whose own tag is `rvTag` (-1 for the root, whose reference
   * Perl does not store). Containers come back as themselves; anything else as a PerlRef.
   */
  private referent(rvTag: number, weak: boolean): PerlValue {
    const b = this.buf;
    let cls: string | undefined;
    let at = this.pos;
    if (at >= this.end) this.truncated(at, "a referenced item");
    let op = b[at];
    while (op === 17 || op === 18) {
      this.pos = at + 1;
      cls = this.blessPrefix(op, at);
      at = this.pos;
      if (at >= this.end) this.truncated(at, "a blessed item");
      op = b[at];
    }
    switch (op) {
      case 3: // SX_HASH
        this.pos = at + 1;
        if (rvTag >= 0) this.flag(rvTag, RV_CONTAINER);
        return this.hash(this.u32(), rvTag, cls, at);
      case 2: // SX_ARRAY
        this.pos = at + 1;
        if (rvTag >= 0) this.flag(rvTag, RV_CONTAINER);
        return this.array(this.u32(), rvTag, cls, at);
      case 25: // SX_FLAG_HASH
        this.pos = at + 1;
        if (rvTag >= 0) this.flag(rvTag, RV_CONTAINER);
        return this.flagHash(rvTag, cls, at);
      case 19: // SX_HOOK (carries its own class)
        this.pos = at + 1;
        if (rvTag >= 0) this.flag(rvTag, RV_CONTAINER);
        return this.hook(rvTag, false, at);
      case 32: // SX_REGEXP
        this.pos = at + 1;
        if (rvTag >= 0) this.flag(rvTag, RV_CONTAINER);
        return this.regexp(rvTag, cls);
      case 0: { // SX_OBJECT: a reference to something already seen
        this.pos = at + 1;
        return this.refToSeen(this.netU32(), rvTag, weak, at);
      }
      case 33: { // SX_LOBJECT: look at the real type
        if (at + 1 >= this.end) this.truncated(at, "a large object");
        const t = b[at + 1];
        if (t === 2 || t === 3 || t === 25 || t === 19) {
          this.pos = at + 1;
          if (rvTag >= 0) this.flag(rvTag, RV_CONTAINER);
          return this.lobject(rvTag, cls, at, true);
        }
        if (t === 0) {
          this.pos = at + 2;
          return this.refToSeen(this.u64(), rvTag, weak, at);
        }
        break;
      }
    }
    // A scalar (or a reference: ref to ref) as referent: a PerlRef, registered before its
    // content so that back references from inside resolve to it. The PerlRef is the value of
    // the reference's slot; its referent is one more value.
    this.count1(at);
    this.enter(at);
    const r = new PerlRef(null, weak);
    if (cls !== undefined) setClass(r, cls);
    if (rvTag >= 0) {
      this.seen.set(rvTag, r);
      this.flag(rvTag, OWN_REF);
    } else {
      this.rootRef = r;
    }
    r.value = this.item();
    this.depth--;
    return r;
  }

  /** Reference (own tag `rvTag`) to the already seen item `tag`. */
  private refToSeen(tag: number, rvTag: number, weak: boolean, at: number): PerlValue {
    if (tag >= this.seen.length) throw new CodecError(`back reference to unknown object #${tag}`, at);
    let v: PerlValue;
    if (tag === rvTag) {
      // A scalar holding a reference to itself (its PerlRef may exist already: `$x = \$x`).
      let r = this.ownRef(tag);
      if (r === undefined) {
        const cache = (this.refCache ??= new Map());
        r = cache.get(tag);
        if (r === undefined) {
          r = new PerlRef(null, weak);
          r.value = r;
          cache.set(tag, r);
        }
      }
      v = r;
    } else {
      v = this.refTo(tag, weak);
    }
    if (rvTag >= 0) {
      this.seen.set(rvTag, v);
      if (!(v instanceof PerlRef)) this.flag(rvTag, RV_CONTAINER);
    }
    return v;
  }

  /** The PerlRef referent() made for the scalar `tag`, if any: it sits in the slot just before. */
  private ownRef(tag: number): PerlRef | undefined {
    if (tag === 0) return this.rootRef ?? undefined;
    const t = tag - 1;
    return t < this.tagFlags.length && (this.tagFlags[t] & OWN_REF) !== 0 ? (this.seen.get(t) as PerlRef) : undefined;
  }

  /** What a Perl reference to seen item `tag` is in JS: the container, or a cached PerlRef. */
  private refTo(tag: number, weak: boolean): PerlValue {
    const v = this.seen.get(tag);
    if (isContainer(v) && !(tag < this.tagFlags.length && (this.tagFlags[tag] & RV_CONTAINER) !== 0)) return v;
    const own = this.ownRef(tag);
    if (own !== undefined) return own;
    const cache = (this.refCache ??= new Map());
    let r = cache.get(tag);
    if (r === undefined) {
      r = new PerlRef(v, weak);
      cache.set(tag, r);
    }
    return r;
  }

  /** SX_OBJECT in value position: the seen value itself. */
  private backref(tag: number, at: number): PerlValue {
    if (tag >= this.seen.length) throw new CodecError(`back reference to unknown object #${tag}`, at);
    return this.seen.get(tag);
  }

  /** Reads the class of SX_BLESS / SX_IX_BLESS (marker already consumed). */
  private blessPrefix(op: number, at: number): string {
    // A blessing costs a property (and SX_BLESS a class name); chains of them create nothing else.
    this.count1(at);
    let n = this.byte();
    if (op === 17) {
      if (n & 0x80) n = this.u32();
      const s = this.take(n, "class name");
      if (n === 0) throw new CodecError("empty class name", at);
      const name = utf8Decode(this.buf, s, s + n);
      this.classes.push(name);
      return name;
    }
    if (n & 0x80) n = this.u32();
    const name = this.classes[n];
    if (name === undefined) throw new CodecError(`class index ${n} was not defined before`, at);
    return name;
  }

  /** A blessed item in value position (only containers can carry the class in JS). */
  private blessedItem(cls: string): PerlValue {
    let at = this.pos;
    if (at >= this.end) this.truncated(at, "a blessed item");
    let op = this.buf[at];
    while (op === 17 || op === 18) {
      this.pos = at + 1;
      cls = this.blessPrefix(op, at);
      at = this.pos;
      if (at >= this.end) this.truncated(at, "a blessed item");
      op = this.buf[at];
    }
    switch (op) {
      case 2:
        this.pos = at + 1;
        return this.array(this.u32(), -1, cls, at);
      case 3:
        this.pos = at + 1;
        return this.hash(this.u32(), -1, cls, at);
      case 25:
        this.pos = at + 1;
        return this.flagHash(-1, cls, at);
      case 32:
        this.pos = at + 1;
        return this.regexp(-1, cls);
    }
    return this.item();
  }

  /** An array of `n` items. */
  private array(n: number, rvTag: number, cls: string | undefined, at: number): PerlValue[] {
    this.countElements(n, at);
    if (n > this.end - this.pos) this.truncated(at, `an array of ${n} elements`);
    // A long array is allocated once, at its length (already checked against the bytes left):
    // grown by push, it would be allocated afresh outside V8's young generation each time it
    // doubled past 16,384 slots, which costs more than the items.
    const a: PerlValue[] = n > PREALLOCATE_ABOVE ? new Array(n) : [];
    if (cls !== undefined) setClass(a, cls);
    const seen = this.seen;
    const t = seen.tail;
    (t.length < SEEN_CHUNK ? t : seen.next()).push(a);
    if (rvTag >= 0) seen.set(rvTag, a);
    this.enter(at);
    if (n > PREALLOCATE_ABOVE) {
      for (let i = 0; i < n; i++) a[i] = this.item();
    } else {
      for (let i = 0; i < n; i++) a.push(this.item()); // push grows a small array faster than a store
    }
    this.depth--;
    return a;
  }

  /** A hash of `n` entries, each a value then its key. */
  private hash(n: number, rvTag: number, cls: string | undefined, at: number): { [key: string]: PerlValue } {
    this.countElements(2 * n, at); // keys and values
    if (n * 5 > this.end - this.pos) this.truncated(at, `a hash of ${n} entries`);
    const h: { [key: string]: PerlValue } = {};
    if (cls !== undefined) setClass(h, cls);
    const seen = this.seen;
    const t = seen.tail;
    (t.length < SEEN_CHUNK ? t : seen.next()).push(h);
    if (rvTag >= 0) seen.set(rvTag, h);
    this.enter(at);
    const b = this.buf;
    for (let i = 0; i < n; i++) {
      const v = this.item();
      const len = this.u32();
      const s = this.take(len, "hash key");
      const k = len <= 24 ? cachedKey(b, s, len) : latin1Decode(b, s, s + len);
      if (k === "__proto__") defineKey(h, k, v);
      else h[k] = v;
    }
    this.depth--;
    return h;
  }

  /** A hash with flags (restricted or UTF-8 keys). */
  private flagHash(rvTag: number, cls: string | undefined, at: number): { [key: string]: PerlValue } {
    this.byte(); // hash flags (restricted): ignored, JS gets a plain object
    return this.flagHashBody(this.u32(), rvTag, cls, at);
  }

  /** The `n` entries of a flagged hash, each a value, the key's flags and the key. */
  private flagHashBody(n: number, rvTag: number, cls: string | undefined, at: number): { [key: string]: PerlValue } {
    // At least value, key flags and one key byte (SHV_K_ISSV keys are items) per entry.
    this.countElements(2 * n, at); // keys and values
    if (n * 3 > this.end - this.pos) this.truncated(at, `a hash of ${n} entries`);
    const h: { [key: string]: PerlValue } = {};
    if (cls !== undefined) setClass(h, cls);
    const seen = this.seen;
    const t = seen.tail;
    (t.length < SEEN_CHUNK ? t : seen.next()).push(h);
    if (rvTag >= 0) seen.set(rvTag, h);
    this.enter(at);
    const b = this.buf;
    for (let i = 0; i < n; i++) {
      const v = this.item();
      const kAt = this.pos;
      const flags = this.byte();
      let k: string;
      if (flags & 0x08) {
        // SHV_K_ISSV: the key is a whole serialized scalar (counted as the entry's key).
        k = keyFromScalar(this.item(), kAt);
      } else {
        const len = this.u32();
        const s = this.take(len, "hash key");
        if (flags & 0x01) k = utf8Decode(b, s, s + len); // SHV_K_UTF8
        else k = len <= 24 ? cachedKey(b, s, len) : latin1Decode(b, s, s + len);
      }
      if (flags & 0x10) continue; // SHV_K_PLACEHOLDER: allowed but absent key of a locked hash
      if (k === "__proto__") defineKey(h, k, v);
      else h[k] = v;
    }
    this.depth--;
    return h;
  }

  /**
   * SX_HOOK: `<flags> [recursed items, each followed by flags] <class> <frozen> [<tag list>]`.
   * The object is registered first (Perl does the same before recursing).
   */
  private hook(rvTag: number, large: boolean, at: number): StorableHook {
    let flags = this.byte();
    const type = flags & 0x03;
    if (type === 3) {
      throw new CodecError("tied objects serialized through STORABLE_freeze hooks are not supported", at);
    }
    // The hook object is its slot's value; its frozen string and its list are more.
    this.countElements(BYTE_STRING_WEIGHT + 1, at);
    const h = new StorableHook("", type === 0 ? "scalar" : type === 1 ? "array" : "hash", EMPTY, []);
    const seen = this.seen;
    const t = seen.tail;
    (t.length < SEEN_CHUNK ? t : seen.next()).push(h);
    if (rvTag >= 0) seen.set(rvTag, h);
    this.enter(at);
    while (flags & 0x40) {
      // SHF_NEED_RECURSE: sub-objects first stored here, referred to by tag below.
      this.count1(this.pos);
      this.item();
      flags = this.byte();
    }
    let cls: string;
    if (flags & 0x20) {
      // SHF_IDX_CLASSNAME
      const idx = flags & 0x04 ? this.u32() : this.byte();
      const name = this.classes[idx];
      if (name === undefined) throw new CodecError(`class index ${idx} was not defined before`, at);
      cls = name;
    } else {
      const len = flags & 0x04 ? this.u32() : this.byte();
      const s = this.take(len, "class name");
      if (len === 0) throw new CodecError("empty class name in a hook", at);
      cls = utf8Decode(this.buf, s, s + len);
      this.classes.push(cls);
    }
    const len2 = large ? this.u64() : flags & 0x08 ? this.u32() : this.byte();
    const fs = this.take(len2, "hook string");
    const frozen = this.buf.slice(fs, fs + len2);
    const refs: PerlValue[] = [];
    if (flags & 0x80) {
      // SHF_HAS_LIST
      let len3 = flags & 0x10 ? this.u32() | 0 : this.byte();
      let wide = false;
      if (len3 < 0) {
        wide = true; // 64-bit object ids
        len3 = -len3;
      }
      this.countElements(len3, at);
      if (len3 * (wide ? 8 : 4) > this.end - this.pos) this.truncated(at, `a hook list of ${len3} objects`);
      for (let i = 0; i < len3; i++) {
        const tAt = this.pos;
        const tag = wide ? this.u64() : this.netU32();
        if (tag >= seen.length) throw new CodecError(`hook refers to unknown object #${tag}`, tAt);
        refs.push(this.refTo(tag, false));
      }
    }
    h.className = cls;
    h.frozen = frozen;
    h.refs = refs;
    this.depth--;
    return h;
  }

  /** A regexp: its pattern and flags. */
  private regexp(rvTag: number, cls: string | undefined): PerlRegexp {
    const opFlags = this.byte();
    const len = opFlags & 0x01 ? this.u32() : this.byte();
    const s = this.take(len, "regexp pattern");
    const fl = this.byte();
    const fs = this.take(fl, "regexp flags");
    const b = this.buf;
    // Storable writes the pattern's bytes without its UTF-8 flag: prefer UTF-8 when valid.
    const pattern = isAscii(b, s, s + len)
      ? latin1Decode(b, s, s + len)
      : (utf8DecodeStrict(b, s, s + len) ?? latin1Decode(b, s, s + len));
    const re = new PerlRegexp(pattern, latin1Decode(b, fs, fs + fl));
    if (cls !== undefined && cls !== "Regexp") setClass(re, cls);
    this.seen.push(re);
    if (rvTag >= 0) this.seen.set(rvTag, re);
    return re;
  }

  /** A v-string: its literal text, then the value it stands for. */
  private vstring(len: number): PerlVString {
    const s = this.take(len, "v-string");
    const b = this.buf;
    const vs = isAscii(b, s, s + len) ? latin1Decode(b, s, s + len) : utf8Decode(b, s, s + len);
    const tag = this.seen.length;
    // The decorated scalar follows: a chain of v-string prefixes nests like any other item.
    this.count1(this.pos);
    this.enter(this.pos);
    const v = new PerlVString(vs, this.item());
    this.depth--;
    this.seen.set(tag, v);
    return v;
  }

  /** A native integer, ivSize bytes in the image's byte order. */
  private integer(): PerlValue {
    const size = this.ivSize;
    const p = this.pos;
    if (p + size > this.end) this.truncated(p, "an integer");
    this.pos = p + size;
    let v: number | bigint;
    const le = this.numLe;
    if (size === 4) {
      v = this.dataView().getInt32(p, le);
    } else {
      const lo = this.readU32At(le ? p : p + 4, le);
      const hi = this.readU32At(le ? p + 4 : p, le) | 0;
      if (hi >= -MAX_SAFE_HI - 1 && hi <= MAX_SAFE_HI) v = hi * 4294967296 + lo;
      else v = (BigInt(hi) << 32n) | BigInt(lo);
    }
    this.seen.push(v);
    return v;
  }

  /** A native double (8 bytes; long doubles are refused). */
  private double(): number {
    if (this.nvSize !== 8) {
      throw new CodecError(`unsupported native NV size ${this.nvSize} (long doubles)`, this.pos - 1);
    }
    const p = this.pos;
    if (p + 8 > this.end) this.truncated(p, "a double");
    this.pos = p + 8;
    const v = this.dataView().getFloat64(p, this.numLe);
    this.seen.push(v);
    return v;
  }

  /** SX_LOBJECT (marker consumed): large string, array, hash, hook or object id. */
  private lobject(rvTag: number, cls: string | undefined, at: number, asReferent: boolean): PerlValue {
    const type = this.byte();
    if (type === 19) return this.hook(rvTag, true, at);
    if (type === 25) this.byte(); // hash flags, ignored
    const len = this.u64();
    switch (type) {
      case 0:
        return asReferent ? this.refToSeen(len, rvTag, false, at) : this.backref(len, at);
      case 1:
        return this.str(len, false);
      case 24:
        return this.str(len, true);
      case 2:
        return this.array(len, rvTag, cls, at);
      case 3:
        return this.hash(len, rvTag, cls, at);
      case 25:
        return this.flagHashBody(len, rvTag, cls, at);
    }
    throw new CodecError(`unexpected type ${type} in SX_LOBJECT`, at);
  }
}

/**
 * Decodes a Storable image (Perl's `nfreeze` or `freeze` output) into a JS value.
 * The root is the referent of the reference Perl froze: a hash gives an object, an
 * array an array, a scalar a {@link PerlRef}.
 *
 * @example
 * ```ts
 * import { thaw } from "@poe-ikc/ikc";
 * // perl -MStorable=nfreeze -e 'print nfreeze({a => [1, 2]})'
 * const v = thaw(new Uint8Array([5, 11, 3, 0, 0, 0, 1, 4, 2, 0, 0, 0, 2, 8, 129, 8, 130, 0, 0, 0, 1, 97]));
 * console.log(v); // { a: [1, 2] }
 * ```
 */
export function thaw(bytes: Uint8Array, options?: ThawOptions): PerlValue {
  return (options ? new StorableDecoder(options) : (defaultDecoder ??= new StorableDecoder())).decode(bytes);
}

let defaultDecoder: StorableDecoder | undefined;

// ---- helpers ---------------------------------------------------------------------------

function isContainer(v: PerlValue): boolean {
  return (
    typeof v === "object" &&
    v !== null &&
    !(v instanceof PerlRef) &&
    !(v instanceof Uint8Array) &&
    !(v instanceof PerlVString)
  );
}

/**
 * Blesses a value this reader just made. Plain assignment makes the same own data property as
 * perl.ts's bless() (the key is a symbol, nothing on a prototype intercepts it) and is several
 * times faster: an image can hold millions of blessed objects.
 */
function setClass(v: object, cls: string): void {
  (v as { [PERL_CLASS]?: string })[PERL_CLASS] = cls;
}

function defineKey(h: { [key: string]: PerlValue }, k: string, v: PerlValue): void {
  Object.defineProperty(h, k, { value: v, enumerable: true, writable: true, configurable: true });
}

function keyFromScalar(v: PerlValue, at: number): string {
  if (typeof v === "string") return v;
  if (typeof v === "number" || typeof v === "bigint" || typeof v === "boolean") return String(v);
  if (v === null) return "";
  if (v instanceof Uint8Array) return latin1Decode(v, 0, v.length);
  throw new CodecError("hash key is not a scalar", at);
}

const INT_RE = /^-?(?:0|[1-9][0-9]*)$/;

/** Canonical Perl number strings to numbers (ThawOptions.numericStrings = "number"). */
function numericValue(s: string): PerlValue {
  const c = s.charCodeAt(0);
  if (!((c >= 48 && c <= 57) || c === 45 || c === 73 || c === 78)) return s;
  if (INT_RE.test(s)) {
    if (s.length < 16) return Number(s);
    const n = Number(s);
    return Number.isSafeInteger(n) ? n : BigInt(s);
  }
  if (s === "Inf") return Infinity;
  if (s === "-Inf") return -Infinity;
  if (s === "NaN") return NaN;
  const n = Number(s);
  return String(n) === s ? n : s;
}

// Hash keys repeat a lot (the same keys in every row): cache short keys so that the
// same (internalized) string is reused instead of building and hashing a new one.
const KEY_CACHE_BITS = 12;
const keyCache: (string | undefined)[] = new Array(1 << KEY_CACHE_BITS).fill(undefined);

function cachedKey(b: Uint8Array, s: number, len: number): string {
  let h = len;
  const e = s + len;
  for (let i = s; i < e; i++) h = (Math.imul(h, 31) + b[i]) | 0;
  const slot = (h ^ (h >>> KEY_CACHE_BITS)) & ((1 << KEY_CACHE_BITS) - 1);
  const k = keyCache[slot];
  if (k !== undefined && k.length === len) {
    let i = 0;
    while (i < len && k.charCodeAt(i) === b[s + i]) i++;
    if (i === len) return k;
  }
  const out = latin1Decode(b, s, e);
  keyCache[slot] = out;
  return out;
}

// ---- Latin-1 / UTF-8 decoding ---------------------------------------------------------
// Perl's UTF-8 is lax: lone surrogates are written as 3-byte sequences (ED A0..BF xx).
// They decode to the lone surrogate code unit, so such strings round-trip.

const fromCharCode = String.fromCharCode;
const CHUNK = 0x1000;

// Engine-specific string building, chosen once (speed only: every path gives the same string).
// V8 builds short strings fastest from one String.fromCharCode call with explicit arguments,
// JavaScriptCore from appending characters; both do longer ASCII runs fastest natively.
const JSC = typeof (globalThis as { Bun?: unknown }).Bun !== "undefined";
const SHORT_MAX = JSC ? 12 : 16;

/**
 * Node's, Bun's and Deno's Buffer#utf8Slice: a native UTF-8 decode about twice as fast as
 * TextDecoder#decode on short and mid-sized strings. Its own policy for bad input does not
 * matter: it must only turn anything it cannot decode into U+FFFD (proven on every lone byte,
 * a truncated and an overlong sequence and a surrogate), and a result holding U+FFFD is
 * decoded again by {@link utf8DecodeJs}, whose lax rules are the ones that count.
 */
const nativeUtf8: ((this: Uint8Array, s: number, e: number) => string) | undefined = (() => {
  try {
    const f = (globalThis as { Buffer?: { prototype?: { utf8Slice?: unknown } } }).Buffer?.prototype?.utf8Slice;
    if (typeof f !== "function") return undefined;
    const call = (bytes: number[]): unknown => {
      const b = new Uint8Array(bytes.length + 2);
      b.set(bytes, 1);
      return f.call(b.subarray(1), 0, bytes.length);
    };
    if (call([0x61, 0xc3, 0xa9, 0xe2, 0x9c, 0x93, 0xf0, 0x9f, 0x98, 0x80]) !== "a\u00e9\u2713\u{1f600}") {
      return undefined;
    }
    for (let c = 0x80; c <= 0xff; c++) if (call([0x61, c, 0x62]) !== "a\ufffdb") return undefined;
    for (const bad of [[0xe2, 0x9c], [0xc0, 0xaf], [0xed, 0xa0, 0x80]]) {
      const out = call(bad);
      if (typeof out !== "string" || out.indexOf("\ufffd") === -1) return undefined;
    }
    return f as (this: Uint8Array, s: number, e: number) => string;
  } catch {
    return undefined;
  }
})();

/**
 * A native UTF-8 decode of bytes that are not UTF-8 costs 30-100 ns a byte (each becomes U+FFFD):
 * 16 MB of 0xFF took seconds. So strings longer than this are checked in JS before any native
 * decode, and shorter ones go native only until one image has shown a string the native decoder
 * could not read (then every string of that image is checked first). A peer's invalid bytes thus
 * cost the slow path once per image, for at most this many bytes.
 */
const NATIVE_UNCHECKED = 256;
let nativeTrusted = true;

/** The `n` bytes at `s` as a string when all are ASCII, else undefined. */
function asciiDecode(b: Uint8Array, s: number, n: number): string | undefined {
  if (n <= SHORT_MAX) {
    if (JSC) {
      let out = "";
      const e = s + n;
      for (let i = s; i < e; i++) {
        const c = b[i];
        if (c >= 0x80) return undefined;
        out += fromCharCode(c);
      }
      return out;
    }
    return shortAscii(b, s, n);
  }
  const e = s + n;
  if (nativeUtf8 !== undefined && nativeTrusted && n <= NATIVE_UNCHECKED) {
    // One native pass instead of a JS ASCII check and then a decode. A valid multi-byte sequence
    // shortens the result and anything else non-ASCII becomes U+FFFD (the probe proved it for
    // every lone byte), so the same length without U+FFFD means every byte was ASCII.
    const out = nativeUtf8.call(b, s, e);
    if (out.indexOf("\ufffd") !== -1) nativeTrusted = false;
    return out.length === n && nativeTrusted ? out : undefined;
  }
  if (!isAscii(b, s, e)) return undefined;
  if (!HAS_NATIVE_LATIN1 && n > 32) {
    return utf8DecodeLax(b.subarray(s, e));
  }
  return latin1Decode(b, s, e);
}

/** Up to 16 bytes: ASCII check and one fromCharCode call. */
function shortAscii(b: Uint8Array, p: number, n: number): string | undefined {
  switch (n) {
    case 0:
      return "";
    case 1:
      return (b[p]) & 0x80 ? undefined : fromCharCode(b[p]);
    case 2:
      return (b[p] | b[p + 1]) & 0x80 ? undefined : fromCharCode(b[p], b[p + 1]);
    case 3:
      return (b[p] | b[p + 1] | b[p + 2]) & 0x80 ? undefined : fromCharCode(b[p], b[p + 1], b[p + 2]);
    case 4:
      return (b[p] | b[p + 1] | b[p + 2] | b[p + 3]) & 0x80
        ? undefined
        : fromCharCode(b[p], b[p + 1], b[p + 2], b[p + 3]);
    case 5:
      return (b[p] | b[p + 1] | b[p + 2] | b[p + 3] | b[p + 4]) & 0x80
        ? undefined
        : fromCharCode(b[p], b[p + 1], b[p + 2], b[p + 3], b[p + 4]);
    case 6:
      return (b[p] | b[p + 1] | b[p + 2] | b[p + 3] | b[p + 4] | b[p + 5]) & 0x80
        ? undefined
        : fromCharCode(b[p], b[p + 1], b[p + 2], b[p + 3], b[p + 4], b[p + 5]);
    case 7:
      return (b[p] | b[p + 1] | b[p + 2] | b[p + 3] | b[p + 4] | b[p + 5] | b[p + 6]) & 0x80
        ? undefined
        : fromCharCode(b[p], b[p + 1], b[p + 2], b[p + 3], b[p + 4], b[p + 5], b[p + 6]);
    case 8:
      return (b[p] | b[p + 1] | b[p + 2] | b[p + 3] | b[p + 4] | b[p + 5] | b[p + 6] | b[p + 7]) & 0x80
        ? undefined
        : fromCharCode(b[p], b[p + 1], b[p + 2], b[p + 3], b[p + 4], b[p + 5], b[p + 6], b[p + 7]);
    case 9:
      return (b[p] | b[p + 1] | b[p + 2] | b[p + 3] | b[p + 4] | b[p + 5] | b[p + 6] | b[p + 7] | b[p + 8]) & 0x80
        ? undefined
        : fromCharCode(b[p], b[p + 1], b[p + 2], b[p + 3], b[p + 4], b[p + 5], b[p + 6], b[p + 7], b[p + 8]);
    case 10:
      return (b[p] | b[p + 1] | b[p + 2] | b[p + 3] | b[p + 4] | b[p + 5] | b[p + 6] | b[p + 7] | b[p + 8] | b[p + 9]) &
          0x80
        ? undefined
        : fromCharCode(b[p], b[p + 1], b[p + 2], b[p + 3], b[p + 4], b[p + 5], b[p + 6], b[p + 7], b[p + 8], b[p + 9]);
    case 11:
      return (b[p] | b[p + 1] | b[p + 2] | b[p + 3] | b[p + 4] | b[p + 5] | b[p + 6] | b[p + 7] | b[p + 8] | b[p + 9] |
          b[p + 10]) & 0x80
        ? undefined
        : fromCharCode(
          b[p],
          b[p + 1],
          b[p + 2],
          b[p + 3],
          b[p + 4],
          b[p + 5],
          b[p + 6],
          b[p + 7],
          b[p + 8],
          b[p + 9],
          b[p + 10],
        );
    case 12:
      return (b[p] | b[p + 1] | b[p + 2] | b[p + 3] | b[p + 4] | b[p + 5] | b[p + 6] | b[p + 7] | b[p + 8] | b[p + 9] |
          b[p + 10] | b[p + 11]) & 0x80
        ? undefined
        : fromCharCode(
          b[p],
          b[p + 1],
          b[p + 2],
          b[p + 3],
          b[p + 4],
          b[p + 5],
          b[p + 6],
          b[p + 7],
          b[p + 8],
          b[p + 9],
          b[p + 10],
          b[p + 11],
        );
    case 13:
      return (b[p] | b[p + 1] | b[p + 2] | b[p + 3] | b[p + 4] | b[p + 5] | b[p + 6] | b[p + 7] | b[p + 8] | b[p + 9] |
          b[p + 10] | b[p + 11] | b[p + 12]) & 0x80
        ? undefined
        : fromCharCode(
          b[p],
          b[p + 1],
          b[p + 2],
          b[p + 3],
          b[p + 4],
          b[p + 5],
          b[p + 6],
          b[p + 7],
          b[p + 8],
          b[p + 9],
          b[p + 10],
          b[p + 11],
          b[p + 12],
        );
    case 14:
      return (b[p] | b[p + 1] | b[p + 2] | b[p + 3] | b[p + 4] | b[p + 5] | b[p + 6] | b[p + 7] | b[p + 8] | b[p + 9] |
          b[p + 10] | b[p + 11] | b[p + 12] | b[p + 13]) & 0x80
        ? undefined
        : fromCharCode(
          b[p],
          b[p + 1],
          b[p + 2],
          b[p + 3],
          b[p + 4],
          b[p + 5],
          b[p + 6],
          b[p + 7],
          b[p + 8],
          b[p + 9],
          b[p + 10],
          b[p + 11],
          b[p + 12],
          b[p + 13],
        );
    case 15:
      return (b[p] | b[p + 1] | b[p + 2] | b[p + 3] | b[p + 4] | b[p + 5] | b[p + 6] | b[p + 7] | b[p + 8] | b[p + 9] |
          b[p + 10] | b[p + 11] | b[p + 12] | b[p + 13] | b[p + 14]) & 0x80
        ? undefined
        : fromCharCode(
          b[p],
          b[p + 1],
          b[p + 2],
          b[p + 3],
          b[p + 4],
          b[p + 5],
          b[p + 6],
          b[p + 7],
          b[p + 8],
          b[p + 9],
          b[p + 10],
          b[p + 11],
          b[p + 12],
          b[p + 13],
          b[p + 14],
        );
    case 16:
      return (b[p] | b[p + 1] | b[p + 2] | b[p + 3] | b[p + 4] | b[p + 5] | b[p + 6] | b[p + 7] | b[p + 8] | b[p + 9] |
          b[p + 10] | b[p + 11] | b[p + 12] | b[p + 13] | b[p + 14] | b[p + 15]) & 0x80
        ? undefined
        : fromCharCode(
          b[p],
          b[p + 1],
          b[p + 2],
          b[p + 3],
          b[p + 4],
          b[p + 5],
          b[p + 6],
          b[p + 7],
          b[p + 8],
          b[p + 9],
          b[p + 10],
          b[p + 11],
          b[p + 12],
          b[p + 13],
          b[p + 14],
          b[p + 15],
        );
  }
  return undefined;
}

function isAscii(b: Uint8Array, s: number, e: number): boolean {
  let i = s;
  for (const e4 = e - 3; i < e4; i += 4) if ((b[i] | b[i + 1] | b[i + 2] | b[i + 3]) & 0x80) return false;
  for (; i < e; i++) if (b[i] >= 0x80) return false;
  return true;
}

/**
 * Lax UTF-8 decode: lone surrogates kept, other invalid sequences become U+FFFD (one per
 * maximal subpart, like the WHATWG decoder, so both paths agree).
 */
function utf8Decode(b: Uint8Array, s: number, e: number): string {
  if (e - s <= 32) {
    // Short strings: TextDecoder's call overhead dominates; build in JS.
    let out = "";
    let i = s;
    for (; i < e; i++) {
      const c = b[i];
      if (c >= 0x80) break;
      out += fromCharCode(c);
    }
    return i === e ? out : out + utf8DecodeJs(b, i, e);
  }
  if (nativeUtf8 !== undefined) {
    // Only bytes that are lax UTF-8 go native: a native decode of invalid bytes costs 30-100 ns a
    // byte (2 MiB of 0x80 took up to 650 ms). Lone surrogates (ED A0..BF xx) pass the scan and
    // come out as U+FFFD: those are decoded again.
    if ((e - s > NATIVE_UNCHECKED || !nativeTrusted) && !isLaxUtf8(b, s, e)) return utf8DecodeJs(b, s, e);
    const out = nativeUtf8.call(b, s, e);
    if (out.indexOf("\ufffd") === -1) return out;
    nativeTrusted = false;
    return utf8DecodeJs(b, s, e);
  }
  const view = b.subarray(s, e);
  if (view.indexOf(0xed) !== -1) return utf8DecodeJs(b, s, e);
  return utf8DecodeLax(view);
}

/** Whether bytes s..e are UTF-8 with surrogates allowed (what {@link utf8DecodeJs} reads without U+FFFD). */
function isLaxUtf8(b: Uint8Array, s: number, e: number): boolean {
  let i = s;
  while (i < e) {
    const b0 = b[i];
    if (b0 < 0x80) {
      i++;
      continue;
    }
    if (b0 >= 0xc2 && b0 <= 0xdf) {
      if (i + 1 >= e || (b[i + 1] & 0xc0) !== 0x80) return false;
      i += 2;
    } else if (b0 >= 0xe0 && b0 <= 0xef) {
      const b1 = b[i + 1];
      if (i + 2 >= e || b1 < (b0 === 0xe0 ? 0xa0 : 0x80) || b1 > 0xbf || (b[i + 2] & 0xc0) !== 0x80) return false;
      i += 3;
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
      const b1 = b[i + 1];
      if (i + 3 >= e || b1 < (b0 === 0xf0 ? 0x90 : 0x80) || b1 > (b0 === 0xf4 ? 0x8f : 0xbf)) return false;
      if ((b[i + 2] & 0xc0) !== 0x80 || (b[i + 3] & 0xc0) !== 0x80) return false;
      i += 4;
    } else {
      return false;
    }
  }
  return true;
}

function utf8DecodeStrict(b: Uint8Array, s: number, e: number): string | undefined {
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(b.subarray(s, e));
  } catch {
    return undefined;
  }
}

function utf8DecodeJs(b: Uint8Array, s: number, e: number): string {
  let out = "";
  const units: number[] = [];
  let i = s;
  while (i < e) {
    const b0 = b[i];
    if (b0 < 0x80) {
      units.push(b0);
      i++;
    } else if (b0 >= 0xc2 && b0 <= 0xdf) {
      const b1 = i + 1 < e ? b[i + 1] : 0;
      if ((b1 & 0xc0) === 0x80) {
        units.push(((b0 & 0x1f) << 6) | (b1 & 0x3f));
        i += 2;
      } else {
        units.push(0xfffd);
        i++;
      }
    } else if (b0 >= 0xe0 && b0 <= 0xef) {
      // E0 needs A0..BF (no overlongs); ED takes A0..BF too (lax: surrogates).
      const b1 = i + 1 < e ? b[i + 1] : 0;
      if (b1 >= (b0 === 0xe0 ? 0xa0 : 0x80) && b1 <= 0xbf) {
        const b2 = i + 2 < e ? b[i + 2] : 0;
        if ((b2 & 0xc0) === 0x80) {
          units.push(((b0 & 0x0f) << 12) | ((b1 & 0x3f) << 6) | (b2 & 0x3f));
          i += 3;
        } else {
          units.push(0xfffd);
          i += 2;
        }
      } else {
        units.push(0xfffd);
        i++;
      }
    } else if (b0 >= 0xf0 && b0 <= 0xf4) {
      const b1 = i + 1 < e ? b[i + 1] : 0;
      if (b1 >= (b0 === 0xf0 ? 0x90 : 0x80) && b1 <= (b0 === 0xf4 ? 0x8f : 0xbf)) {
        const b2 = i + 2 < e ? b[i + 2] : 0;
        if ((b2 & 0xc0) === 0x80) {
          const b3 = i + 3 < e ? b[i + 3] : 0;
          if ((b3 & 0xc0) === 0x80) {
            const cp = (((b0 & 0x07) << 18) | ((b1 & 0x3f) << 12) | ((b2 & 0x3f) << 6) | (b3 & 0x3f)) - 0x10000;
            units.push(0xd800 + (cp >> 10), 0xdc00 + (cp & 0x3ff));
            i += 4;
          } else {
            units.push(0xfffd);
            i += 3;
          }
        } else {
          units.push(0xfffd);
          i += 2;
        }
      } else {
        units.push(0xfffd);
        i++;
      }
    } else {
      units.push(0xfffd);
      i++;
    }
    if (units.length >= CHUNK) {
      out += fromCharCode.apply(null, units);
      units.length = 0;
    }
  }
  return units.length ? out + fromCharCode.apply(null, units) : out;
}
