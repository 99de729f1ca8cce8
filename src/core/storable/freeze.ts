/**
 * Storable writer: JavaScript values to Perl `nfreeze` images (network order), thawable
 * by Perl 5.36's Storable 3.26 and by old Storable 2.x releases.
 *
 * Tags are counted exactly as Perl's `retrieve` will count them (every scalar, every
 * reference and every container gets one), so an object, array or {@link PerlRef} met a
 * second time is written as an `SX_OBJECT` back reference: shared references and cycles
 * keep their identity in Perl.
 *
 * Compatibility: the header says binary minor 11 (what Storable 3.x writes); older Storable
 * releases accept it (`$Storable::accept_future_minor` defaults to true) as long as every opcode
 * is one they know. Plain data (hashes, arrays, strings, numbers, undef, refs, blessed values,
 * hooks, weak refs, v-strings) only uses opcodes 0 to 31, which Storable 2.x reads (weak refs and
 * v-strings on Perls that have them). Two kinds need more, and are only written when
 * the caller asks: a {@link PerlRegexp} value (SX_REGEXP, Storable 3.x from Perl 5.28) and
 * `booleans: "storable3.32"` (SX_BOOLEAN_TRUE / FALSE, Storable 3.32 from Perl 5.38).
 *
 * @module
 */
import { CodecError, LimitError } from "../errors.ts";
import { PERL_CLASS, type PerlInput, PerlRef, PerlRegexp, type PerlValue, PerlVString, StorableHook } from "../perl.ts";
import { hashKeyOf } from "../map-hash.ts";
import { isAsciiString, isLatin1String, latin1Encode } from "../text.ts";

/**
 * Options for {@link nfreeze} and {@link StorableEncoder}.
 *
 * @example
 * ```ts
 * import { nfreeze, type FreezeOptions } from "@poe-ikc/ikc";
 * const opts: FreezeOptions = { canonical: true, booleans: "yesno" };
 * const bytes = nfreeze({ b: 1, a: true }, opts);
 * ```
 */
export interface FreezeOptions {
  /** Nesting levels (arrays, hashes, scalar refs, hooks); deeper values throw a LimitError. Default 512. */
  maxDepth?: number;
  /** Write hash keys sorted (like `$Storable::canonical`), for byte-stable output. Default false. */
  canonical?: boolean;
  /**
   * How JS booleans are written. `"yesno"` (default): the strings `"1"` and `""`, which is what
   * Perl 5.36 itself writes for `!!1` / `!!0` and what every Storable thaws into ordinary
   * writable scalars (Storable 3.26 thaws SX_SV_YES / SX_SV_NO inside arrays and hashes as
   * read-only immortals, so they are not used). `"storable3.32"`: SX_BOOLEAN_TRUE / FALSE,
   * real booleans for Storable 3.32+ (Perl 5.38+); older Storable cannot thaw them.
   */
  booleans?: "yesno" | "storable3.32";
}

const ROOT_ERROR = "the root value must be an object, array or PerlRef";
const REGEXP_FLAGS = /^[msixpdualn]*$/;
const INITIAL_SIZE = 0x4000;
/** Objects found by a scan before a Map indexes them. */
const SEEN_SCAN = 16;

/**
 * A reusable Storable writer with fixed options. Consecutive results may share one
 * underlying ArrayBuffer (each result is its own, never rewritten, range of it); call
 * `.slice()` on a result if you need a standalone buffer.
 *
 * @example
 * ```ts
 * import { StorableEncoder } from "@poe-ikc/ikc";
 * const enc = new StorableEncoder({ canonical: true });
 * const bytes = enc.encode({ a: [1, 2] });
 * console.log(bytes[0], bytes[1]); // 5 11 (network order, minor 11)
 * ```
 */
export class StorableEncoder {
  private readonly maxDepth: number;
  private readonly canonical: boolean;
  private readonly boolOps: boolean;

  private buf: Uint8Array = new Uint8Array(INITIAL_SIZE);
  private start = 0;
  private pos = 0;
  /** Size of the previous image, to size the next buffer. */
  private lastSize = 0;
  private tag = 0;
  private depth = 0;
  /** Tags of the objects written so far, once more than SEEN_SCAN were (see backrefScan). */
  private seen = new Map<object, number>();
  private indexed = false;
  /** Objects in registration order, to undo registrations when a hash is rewritten flagged. */
  private seenLog: object[] = [];
  /** Their tags, while they are few enough to be found by a scan. */
  private seenTags: number[] = [];
  private classes = new Map<string, number>();
  private classLog: string[] = [];
  /** Object.prototype has enumerable properties (someone added some): for-in would see them. */
  private protoDirty = false;

  /** Makes an encoder; it reuses one growing buffer across encode() calls. */
  constructor(options: FreezeOptions = {}) {
    this.maxDepth = options.maxDepth ?? 512;
    this.canonical = options.canonical === true;
    this.boolOps = options.booleans === "storable3.32";
  }

  /**
   * Encodes `value` (an object, array, Map, {@link PerlRef}, {@link StorableHook} or
   * {@link PerlRegexp}: Perl freezes a reference) as an `nfreeze` image.
   * Throws a {@link CodecError} for values Perl cannot receive (functions, symbols, class
   * instances, a non-reference root) and a {@link LimitError} for too deep nesting.
   *
   * @example
   * ```ts
   * import { StorableEncoder } from "@poe-ikc/ikc";
   * import { PerlRef } from "@poe-ikc/ikc";
   * const enc = new StorableEncoder();
   * enc.encode(new PerlRef("text")); // Perl: nfreeze(\"text")
   * ```
   */
  encode(value: PerlInput): Uint8Array {
    const last = this.lastSize;
    if (this.buf.length - this.pos < Math.max(256, last + (last >> 2))) {
      // Room for several images of the last size, so the buffer is not reallocated per call.
      this.start = this.pos;
      this.newBuffer(last < 0x100000 ? last * 8 : last + (last >> 2));
    }
    this.start = this.pos;
    this.tag = 0;
    this.depth = 0;
    this.protoDirty = false;
    for (const _ in Object.prototype) {
      this.protoDirty = true;
      break;
    }
    try {
      this.ensure(2);
      this.buf[this.pos++] = 0x05; // major 2, network order
      this.buf[this.pos++] = 11; // minor Storable 3.x writes
      if (!isReferenceLike(value)) throw new CodecError(ROOT_ERROR);
      this.referent(value as object);
      const out = this.buf.subarray(this.start, this.pos);
      this.lastSize = this.pos - this.start;
      this.start = this.pos;
      return out;
    } catch (e) {
      this.pos = this.start;
      if (e instanceof RangeError) {
        throw new LimitError(`JavaScript engine limit hit while encoding: ${e.message}`, -1, { cause: e });
      }
      throw e;
    } finally {
      if (this.indexed) {
        // A fresh Map is cheaper than clear() + regrowing the emptied table.
        this.seen = new Map();
        this.indexed = false;
      }
      this.seenLog.length = 0;
      this.seenTags.length = 0;
      if (this.classLog.length) {
        this.classes.clear();
        this.classLog.length = 0;
      }
    }
  }

  // ---- buffer ------------------------------------------------------------------------

  /** Moves the image into a larger buffer holding at least `min` more bytes. */
  private newBuffer(min: number): void {
    const used = this.pos - this.start;
    const size = Math.max(INITIAL_SIZE, min + used, Math.min(used * 2, used + 0x1000000));
    const nb = new Uint8Array(size);
    nb.set(this.buf.subarray(this.start, this.pos));
    this.buf = nb;
    this.start = 0;
    this.pos = used;
  }

  /** Room for `n` more bytes. */
  private ensure(n: number): void {
    if (this.pos + n > this.buf.length) this.newBuffer(n + (this.pos - this.start));
  }

  /** A 32-bit length in network order. */
  private u32(v: number): void {
    const b = this.buf;
    const p = this.pos;
    b[p] = v >>> 24;
    b[p + 1] = v >>> 16;
    b[p + 2] = v >>> 8;
    b[p + 3] = v;
    this.pos = p + 4;
  }

  /** One level deeper, bounded by maxDepth. */
  private enter(): void {
    if (++this.depth > this.maxDepth) throw new LimitError(`nesting deeper than maxDepth ${this.maxDepth}`);
  }

  // ---- values ------------------------------------------------------------------------

  /** One value in an SV slot (array element, hash value, referent content): one tag or more. */
  private value(v: PerlValue): void {
    // Kept small so that it inlines into the array and hash loops: the common scalars here,
    // everything else in valueOther.
    this.tag++;
    if (typeof v === "string") return this.string(v);
    if (typeof v === "number") {
      const i = v | 0;
      if (i === v && i >= -128 && i <= 127) {
        if (this.pos + 2 > this.buf.length) this.ensure(2);
        this.buf[this.pos++] = 8; // SX_BYTE
        this.buf[this.pos++] = i + 128;
        return;
      }
      return this.number(v);
    }
    if (v === null) {
      if (this.pos + 1 > this.buf.length) this.ensure(1);
      this.buf[this.pos++] = 5; // SX_UNDEF
      return;
    }
    this.tag--;
    this.valueOther(v);
  }

  /** Everything but strings and numbers: containers, refs, blessed and special values. */
  private valueOther(v: PerlValue): void {
    switch (typeof v) {
      case "object": {
        // null never gets here (value() writes it). Plain arrays and hashes, the common case,
        // go first: they skip the instanceof chain below.
        if (Array.isArray(v)) {
          this.sxRef();
          this.array(v);
          return;
        }
        if (Object.getPrototypeOf(v) === Object.prototype) {
          this.sxRef();
          this.hash(v as { [key: string]: PerlValue });
          return;
        }
        if (v instanceof Uint8Array) {
          this.tag++;
          this.bytes(v, 10, 1);
          return;
        }
        if (v instanceof PerlVString) {
          this.vstring(v);
          return;
        }
        if (v instanceof PerlRef) {
          this.ensure(1);
          this.buf[this.pos++] = v.weak ? 27 : 4; // SX_WEAKREF / SX_REF
          this.tag++;
          this.perlRef(v);
          return;
        }
        this.sxRef();
        this.referent(v as object);
        return;
      }
      case "boolean":
        this.tag++;
        this.ensure(3);
        if (this.boolOps) {
          this.buf[this.pos++] = v ? 34 : 35; // SX_BOOLEAN_TRUE / FALSE
        } else if (v) {
          this.buf[this.pos++] = 10; // SX_SCALAR "1"
          this.buf[this.pos++] = 1;
          this.buf[this.pos++] = 0x31;
        } else {
          this.buf[this.pos++] = 10; // SX_SCALAR ""
          this.buf[this.pos++] = 0;
        }
        return;
      case "undefined":
        this.ensure(1);
        this.buf[this.pos++] = 5; // SX_UNDEF
        this.tag++;
        return;
      case "bigint":
        this.tag++;
        if (v >= -0x80000000n && v <= 0x7fffffffn) this.number(Number(v));
        else this.ascii(v.toString());
        return;
      default:
        throw new CodecError(`cannot freeze a value of type ${typeof v}`);
    }
  }

  /** SX_REF, which takes a tag of its own; its referent follows. */
  private sxRef(): void {
    this.ensure(1);
    this.buf[this.pos++] = 4; // SX_REF
    this.tag++;
  }

  /**
   * The referent of a reference: a container (hash, array), a hooked or regexp object,
   * or the scalar slot a PerlRef points to. Written once; later as SX_OBJECT.
   */
  private referent(v: object): void {
    if (Array.isArray(v)) return this.array(v);
    const proto = Object.getPrototypeOf(v);
    if (proto === Object.prototype || proto === null) return this.hash(v as { [key: string]: PerlValue });
    if (v instanceof PerlRef) return this.perlRef(v);
    if (v instanceof Map) return this.map(v as Map<unknown, PerlValue>);
    if (v instanceof StorableHook) return this.hook(v);
    if (v instanceof PerlRegexp) return this.regexp(v);
    const name = (v as { constructor?: { name?: unknown } }).constructor?.name;
    throw new CodecError(
      `cannot freeze ${
        typeof name === "string" && name ? `a ${name} instance` : "this object"
      }: only plain objects, arrays, Map, Uint8Array and the Perl value classes are supported`,
    );
  }

  /** Writes SX_OBJECT and returns true when `v` was written before; else registers it. */
  private backref(v: object): boolean {
    if (!this.indexed) return this.backrefScan(v);
    const t = this.seen.get(v);
    if (t !== undefined) {
      this.sxObject(t);
      return true;
    }
    this.seen.set(v, this.tag);
    this.seenLog.push(v);
    return false;
  }

  /**
   * {@link backref} while at most SEEN_SCAN objects were written: most messages hold a handful,
   * and a scan of those costs less than hashing them into a Map (made anew per encode).
   */
  private backrefScan(v: object): boolean {
    const log = this.seenLog;
    const i = log.indexOf(v);
    if (i >= 0) {
      this.sxObject(this.seenTags[i]);
      return true;
    }
    log.push(v);
    this.seenTags.push(this.tag);
    if (log.length > SEEN_SCAN) {
      // From now on the Map: every object so far goes in.
      const m = this.seen;
      const tags = this.seenTags;
      for (let j = 0; j < log.length; j++) m.set(log[j], tags[j]);
      this.indexed = true;
    }
    return false;
  }

  /** SX_OBJECT: a back reference to the item written under `tag`. */
  private sxObject(tag: number): void {
    this.ensure(5);
    this.buf[this.pos++] = 0; // SX_OBJECT
    this.u32(tag);
  }

  /** The tag `v` was written under, if it was. */
  private tagOf(v: object): number | undefined {
    if (this.indexed) return this.seen.get(v);
    const i = this.seenLog.indexOf(v);
    return i < 0 ? undefined : this.seenTags[i];
  }

  /** An array, or a back reference when already written. */
  private array(a: PerlValue[]): void {
    if (this.backref(a)) return;
    this.tag++;
    const cls = (a as { [PERL_CLASS]?: unknown })[PERL_CLASS];
    if (cls !== undefined) this.bless(cls);
    this.enter();
    const n = a.length;
    this.ensure(5);
    this.buf[this.pos++] = 2; // SX_ARRAY
    this.u32(n);
    for (let i = 0; i < n; i++) this.value(a[i]);
    this.depth--;
  }

  /** A plain object as a hash, or a back reference when already written. */
  private hash(h: { [key: string]: PerlValue }): void {
    if (this.backref(h)) return;
    this.tag++;
    const cls = (h as { [PERL_CLASS]?: unknown })[PERL_CLASS];
    if (cls !== undefined) this.bless(cls);
    this.enter();
    // Optimistically a plain SX_HASH; a non-ASCII key means SX_FLAG_HASH, so undo and redo.
    // Marks are relative to the image start: the buffer may be replaced (and the image moved)
    // while the values are written.
    this.ensure(5);
    const mark = this.pos - this.start;
    const markTag = this.tag;
    const markSeen = this.seenLog.length;
    const markClasses = this.classLog.length;
    this.buf[this.pos++] = 3; // SX_HASH
    const lenAt = this.pos - this.start;
    this.pos += 4;
    let n = 0;
    let ok = true;
    if (this.canonical || this.protoDirty) {
      const keys = Object.keys(h);
      if (this.canonical) keys.sort(compareCodePoints);
      for (; n < keys.length; n++) {
        const k = keys[n];
        this.value(h[k]);
        if (!this.asciiKey(k)) {
          ok = false;
          break;
        }
      }
    } else {
      // for-in walks V8's enum cache (much faster than Object.keys + h[k]); Object.prototype
      // has no enumerable properties (checked per encode), so only own keys come.
      for (const k in h) {
        this.value(h[k]);
        n++;
        if (!this.asciiKey(k)) {
          ok = false;
          break;
        }
      }
    }
    if (ok) {
      const b = this.buf;
      const at = this.start + lenAt;
      b[at] = n >>> 24;
      b[at + 1] = n >>> 16;
      b[at + 2] = n >>> 8;
      b[at + 3] = n;
    } else {
      const keys = Object.keys(h);
      if (this.canonical) keys.sort(compareCodePoints);
      const n = keys.length;
      this.rollback(this.start + mark, markTag, markSeen, markClasses);
      this.ensure(6);
      this.buf[this.pos++] = 25; // SX_FLAG_HASH
      this.buf[this.pos++] = 0; // hash flags
      this.u32(n);
      for (let i = 0; i < n; i++) {
        const k = keys[i];
        this.value(h[k]);
        this.flaggedKey(k);
      }
    }
    this.depth--;
  }

  /** A Map as a hash (keys must be strings or numbers), or a back reference. */
  private map(m: Map<unknown, PerlValue>): void {
    if (this.backref(m)) return;
    this.tag++;
    const cls = (m as { [PERL_CLASS]?: unknown })[PERL_CLASS];
    if (cls !== undefined) this.bless(cls);
    this.enter();
    const keys: string[] = [];
    const vals: PerlValue[] = [];
    for (const [k, v] of m) {
      keys.push(hashKeyOf(k));
      vals.push(v);
    }
    let order: number[] | undefined;
    if (this.canonical) {
      order = keys.map((_, i) => i);
      order.sort((x, y) => compareCodePoints(keys[x], keys[y]));
    }
    const n = keys.length;
    let flagged = false;
    for (let i = 0; i < n && !flagged; i++) flagged = !isAsciiString(keys[i]);
    this.ensure(6);
    if (flagged) {
      this.buf[this.pos++] = 25; // SX_FLAG_HASH
      this.buf[this.pos++] = 0;
    } else {
      this.buf[this.pos++] = 3; // SX_HASH
    }
    this.u32(n);
    for (let j = 0; j < n; j++) {
      const i = order ? order[j] : j;
      this.value(vals[i]);
      if (flagged) this.flaggedKey(keys[i]);
      else this.asciiKey(keys[i]);
    }
    this.depth--;
  }

  /** Undoes a partly written item so that it can be written another way. */
  private rollback(pos: number, tag: number, seenLen: number, classLen: number): void {
    this.pos = pos;
    this.tag = tag;
    const log = this.seenLog;
    while (log.length > seenLen) this.seen.delete(log.pop()!);
    if (this.seenTags.length > seenLen) this.seenTags.length = seenLen;
    const cl = this.classLog;
    while (cl.length > classLen) this.classes.delete(cl.pop()!);
  }

  /** Writes `<len> <bytes>` for an ASCII key; false (nothing usable written) otherwise. */
  private asciiKey(k: string): boolean {
    const n = k.length;
    this.ensure(4 + n);
    const b = this.buf;
    let p = this.pos;
    b[p] = n >>> 24;
    b[p + 1] = n >>> 16;
    b[p + 2] = n >>> 8;
    b[p + 3] = n;
    p += 4;
    for (let i = 0; i < n; i++) {
      const c = k.charCodeAt(i);
      if (c >= 0x80) return false;
      b[p++] = c;
    }
    this.pos = p;
    return true;
  }

  /** SX_FLAG_HASH key: flags, length, bytes; written like Perl writes a UTF-8 flagged key. */
  private flaggedKey(k: string): void {
    const n = k.length;
    let max = 0;
    for (let i = 0; i < n; i++) {
      const c = k.charCodeAt(i);
      if (c > max) max = c;
    }
    if (max < 0x80) {
      this.ensure(1);
      this.buf[this.pos++] = 0;
      this.asciiKey(k);
    } else if (max <= 0xff) {
      // Perl stores a UTF-8 key whose characters all fit Latin-1 downgraded: SHV_K_WASUTF8.
      this.ensure(5 + n);
      this.buf[this.pos++] = 0x02;
      this.u32(n);
      const b = this.buf;
      for (let i = 0; i < n; i++) b[this.pos++] = k.charCodeAt(i);
    } else {
      this.ensure(5 + 3 * n);
      this.buf[this.pos++] = 0x01; // SHV_K_UTF8
      const lenAt = this.pos;
      this.pos += 4;
      const end = utf8EncodeInto(k, 0, this.buf, this.pos);
      const len = end - this.pos;
      this.pos = lenAt;
      this.u32(len);
      this.pos = end;
    }
  }

  /** A PerlRef's referent: the scalar slot holding `r.value` (its tag is the next one). */
  private perlRef(r: PerlRef): void {
    if (this.backref(r)) return;
    const cls = (r as { [PERL_CLASS]?: unknown })[PERL_CLASS];
    if (cls !== undefined) this.bless(cls);
    this.enter();
    this.value(r.value);
    this.depth--;
  }

  /** The blessing that precedes a blessed item: the class name, or its index when seen before. */
  private bless(cls: unknown): void {
    if (typeof cls !== "string" || cls === "") {
      throw new CodecError("a blessed value's class must be a non-empty string");
    }
    const idx = this.classes.get(cls);
    if (idx !== undefined) {
      this.ensure(6);
      this.buf[this.pos++] = 18; // SX_IX_BLESS
      if (idx <= 127) {
        this.buf[this.pos++] = idx;
      } else {
        this.buf[this.pos++] = 0x80;
        this.u32(idx);
      }
      return;
    }
    this.classes.set(cls, this.classLog.length);
    this.classLog.push(cls);
    const name = utf8Bytes(cls);
    this.ensure(6 + name.length);
    this.buf[this.pos++] = 17; // SX_BLESS
    if (name.length <= 127) {
      this.buf[this.pos++] = name.length;
    } else {
      this.buf[this.pos++] = 0x80;
      this.u32(name.length);
    }
    this.buf.set(name, this.pos);
    this.pos += name.length;
  }

  /** Class index for a hook, registering the name if new; -1 when new. */
  private hookClass(cls: string): number {
    const idx = this.classes.get(cls);
    if (idx !== undefined) return idx;
    this.classes.set(cls, this.classLog.length);
    this.classLog.push(cls);
    return -1;
  }

  /**
   * SX_HOOK, laid out as Perl's store_hook writes it, so Perl calls the class's
   * STORABLE_thaw (or STORABLE_attach) with the frozen string and the refs.
   */
  private hook(h: StorableHook): void {
    if (this.backref(h)) return;
    this.tag++;
    const cls = h.className;
    if (typeof cls !== "string" || cls === "") {
      throw new CodecError("StorableHook.className must be a non-empty string");
    }
    const type = h.kind === "scalar" ? 0 : h.kind === "array" ? 1 : h.kind === "hash" ? 2 : -1;
    if (type < 0) throw new CodecError(`StorableHook.kind must be "scalar", "array" or "hash", not ${String(h.kind)}`);
    const frozen = h.frozen;
    if (!(frozen instanceof Uint8Array)) throw new CodecError("StorableHook.frozen must be a Uint8Array");
    const refs = h.refs ?? [];
    this.enter();
    // Sub-objects not written yet are stored first, each after a flags byte with
    // SHF_NEED_RECURSE; their tags then go into the list.
    const tags: number[] = [];
    let recursed = false;
    for (const r of refs) {
      if (!isReferenceLike(r)) {
        throw new CodecError("StorableHook.refs must hold references (objects, arrays, Maps or PerlRefs)");
      }
      let t = this.tagOf(r as object);
      if (t === undefined) {
        this.ensure(2);
        if (!recursed) {
          this.buf[this.pos++] = 19; // SX_HOOK
          recursed = true;
        }
        this.buf[this.pos++] = 0x40 | type; // SHF_NEED_RECURSE
        t = this.tag;
        this.referent(r as object);
      }
      tags.push(t);
    }
    // The class id is allocated after the recursion, as Perl does (inner objects come first).
    const idx = this.hookClass(cls);
    const name = idx < 0 ? utf8Bytes(cls) : undefined;
    let flags = type;
    if ((name ? name.length : idx) > 255) flags |= 0x04; // SHF_LARGE_CLASSLEN
    if (idx >= 0) flags |= 0x20; // SHF_IDX_CLASSNAME
    if (frozen.length > 255) flags |= 0x08; // SHF_LARGE_STRLEN
    if (tags.length > 0) flags |= 0x80; // SHF_HAS_LIST
    if (tags.length > 255) flags |= 0x10; // SHF_LARGE_LISTLEN
    this.ensure(20 + (name ? name.length : 0) + frozen.length + 4 * tags.length);
    const b = this.buf;
    if (!recursed) b[this.pos++] = 19; // SX_HOOK
    b[this.pos++] = flags;
    if (name) {
      if (flags & 0x04) this.u32(name.length);
      else b[this.pos++] = name.length;
      b.set(name, this.pos);
      this.pos += name.length;
    } else if (flags & 0x04) {
      this.u32(idx);
    } else {
      b[this.pos++] = idx;
    }
    if (flags & 0x08) this.u32(frozen.length);
    else b[this.pos++] = frozen.length;
    b.set(frozen, this.pos);
    this.pos += frozen.length;
    if (tags.length) {
      if (flags & 0x10) this.u32(tags.length);
      else b[this.pos++] = tags.length;
      for (const t of tags) this.u32(t); // object ids: always network order
    }
    this.depth--;
  }

  /** A regexp: its pattern and flags. */
  private regexp(re: PerlRegexp): void {
    if (this.backref(re)) return;
    this.tag++;
    const flags = re.flags ?? "";
    if (typeof re.pattern !== "string" || typeof flags !== "string") {
      throw new CodecError("PerlRegexp pattern and flags must be strings");
    }
    if (!REGEXP_FLAGS.test(flags)) {
      throw new CodecError(`regexp flags "${flags}" are not Perl flags (allowed: m s i x p d u a l n)`);
    }
    this.bless((re as { [PERL_CLASS]?: unknown })[PERL_CLASS] ?? "Regexp");
    // Storable 3.26 writes and reads the pattern as bytes, losing its UTF-8 flag: spell
    // non-ASCII characters as \x{...} escapes so every Storable rebuilds the same regexp.
    const pat = utf8Bytes(escapeRegexpNonAscii(re.pattern));
    this.ensure(8 + pat.length + flags.length);
    const b = this.buf;
    b[this.pos++] = 32; // SX_REGEXP
    if (pat.length > 255) {
      b[this.pos++] = 0x01; // SHR_U32_RE_LEN
      this.u32(pat.length);
    } else {
      b[this.pos++] = 0;
      b[this.pos++] = pat.length;
    }
    b.set(pat, this.pos);
    this.pos += pat.length;
    b[this.pos++] = flags.length;
    for (let i = 0; i < flags.length; i++) b[this.pos++] = flags.charCodeAt(i);
  }

  /** A v-string: its literal text, then the value it stands for. */
  private vstring(v: PerlVString): void {
    const val = v.value;
    if (!(typeof val === "string" || typeof val === "number" || typeof val === "bigint" || val instanceof Uint8Array)) {
      throw new CodecError("PerlVString.value must be a string, number or Uint8Array");
    }
    if (typeof v.vstring !== "string") throw new CodecError("PerlVString.vstring must be a string");
    const vs = isLatin1String(v.vstring) ? latin1Encode(v.vstring) : utf8Bytes(v.vstring);
    this.bytes(vs, 29, 30); // SX_VSTRING / SX_LVSTRING: magic first, then the scalar
    this.value(val);
  }

  // ---- scalars -----------------------------------------------------------------------

  /** A number: the smallest integer form that holds it, else a double. */
  private number(n: number): void {
    const i = n | 0;
    if (i === n) {
      this.ensure(5);
      const b = this.buf;
      if (i >= -128 && i <= 127) {
        b[this.pos++] = 8; // SX_BYTE
        b[this.pos++] = i + 128;
      } else {
        b[this.pos++] = 9; // SX_NETINT
        this.u32(i);
      }
      return;
    }
    // A double with at most 4 decimals and |n| < 2^31 is written digit by digit, without String(n)
    // (the same bytes). m / 10^d === n proves that the decimal m * 10^-d reads back as n (both are
    // the correctly rounded value of one rational); the smallest such d gives the digits String(n)
    // gives, and Math.round finds the only candidate m (doubles there are < 2^-22 apart).
    if (n > -2147483648 && n < 2147483648) {
      let p = 10;
      for (let d = 1; d <= 4; d++, p *= 10) {
        const m = Math.round(n * p);
        if (m / p === n) {
          this.decimal(m, p, d);
          return;
        }
      }
    }
    // Network order has no binary doubles: Perl itself writes them as strings.
    this.ascii(n !== n ? "NaN" : n === Infinity ? "Inf" : n === -Infinity ? "-Inf" : String(n));
  }

  /** SX_SCALAR of the decimal m / p (p = 10^d, m not a multiple of 10^d): sign, integer part, '.', d digits. */
  private decimal(m: number, p: number, d: number): void {
    this.ensure(2 + 12 + d);
    const b = this.buf;
    const at = this.pos;
    let q = at + 2;
    if (m < 0) {
      b[q++] = 0x2d; // '-'
      m = -m;
    }
    let ip = Math.floor(m / p);
    let frac = m - ip * p;
    // integer part
    if (ip === 0) b[q++] = 0x30;
    else {
      const s = q;
      while (ip > 0) {
        const r = ip % 10;
        b[q++] = 0x30 + r;
        ip = (ip - r) / 10;
      }
      for (let i = s, j = q - 1; i < j; i++, j--) {
        const t = b[i];
        b[i] = b[j];
        b[j] = t;
      }
    }
    b[q++] = 0x2e; // '.'
    // d fraction digits, then drop trailing zeros (String(4.5) is "4.5", not "4.50")
    for (let i = q + d - 1; i >= q; i--) {
      const r = frac % 10;
      b[i] = 0x30 + r;
      frac = (frac - r) / 10;
    }
    q += d;
    while (b[q - 1] === 0x30) q--;
    b[at] = 10; // SX_SCALAR
    b[at + 1] = q - at - 2;
    this.pos = q;
  }

  /** SX_SCALAR / SX_LSCALAR of an ASCII string. */
  private ascii(s: string): void {
    const n = s.length;
    this.ensure(5 + n);
    const b = this.buf;
    if (n <= 255) {
      b[this.pos++] = 10;
      b[this.pos++] = n;
    } else {
      b[this.pos++] = 1;
      this.u32(n);
    }
    for (let i = 0; i < n; i++) b[this.pos++] = s.charCodeAt(i);
  }

  /** Byte string with a 1-byte (`small` opcode) or 4-byte (`large` opcode) length. */
  private bytes(v: Uint8Array, small: number, large: number): void {
    const n = v.length;
    this.ensure(5 + n);
    const b = this.buf;
    if (n <= 255) {
      b[this.pos++] = small;
      b[this.pos++] = n;
    } else {
      b[this.pos++] = large;
      this.u32(n);
    }
    b.set(v, this.pos);
    this.pos += n;
  }

  /** A JS string: SX_SCALAR when ASCII, else SX_UTF8STR (Perl gets a UTF-8 flagged string). */
  private string(s: string): void {
    const n = s.length;
    if (n <= 85 && (n <= SHORT_STRING || nativeUtf8Write === undefined)) {
      // At most 3 bytes per UTF-16 unit: the byte length fits the 1-byte form.
      this.ensure(2 + 3 * n);
      const b = this.buf;
      const at = this.pos;
      let p = at + 2;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        b[p++] = c;
      }
      if (i === n) {
        b[at] = 10; // SX_SCALAR
        b[at + 1] = n;
        this.pos = p;
        return;
      }
      p = utf8EncodeInto(s, i, b, p);
      b[at] = 23; // SX_UTF8STR
      b[at + 1] = p - at - 2;
      this.pos = p;
      return;
    }
    // Up to 85 units the bytes fit a 1-byte length: written straight after it. Longer ones leave
    // room for a 4-byte length and move back when they turn out to fit the short form.
    const head = n <= 85 ? 2 : 5;
    this.ensure(head + 3 * n);
    const b = this.buf;
    const at = this.pos;
    let p = utf8EncodeLong(s, b, at + head);
    if (p < 0) p = utf8EncodeInto(s, 0, b, at + head);
    const len = p - at - head;
    const utf8 = len !== n; // byte length equals unit count only for pure ASCII
    if (head === 2) {
      b[at] = utf8 ? 23 : 10;
      b[at + 1] = len;
      this.pos = p;
      return;
    }
    if (len <= 255) {
      b.copyWithin(at + 2, at + 5, p);
      b[at] = utf8 ? 23 : 10;
      b[at + 1] = len;
      this.pos = p - 3;
    } else {
      b[at] = utf8 ? 24 : 1; // SX_LUTF8STR / SX_LSCALAR
      this.pos = at + 1;
      this.u32(len);
      this.pos = p;
    }
  }
}

let defaultEncoder: StorableEncoder | undefined;

/**
 * Freezes `value` like Perl's `Storable::nfreeze(\$value)`: network order, thawable by any
 * Storable (2.x and 3.x). The root must be a reference: an object or Map (hash), an array,
 * a {@link PerlRef}, a {@link StorableHook} or a {@link PerlRegexp}.
 *
 * @example
 * ```ts
 * import { nfreeze } from "@poe-ikc/ikc";
 * const bytes = nfreeze({ event: "poe://K/sess/state", params: [1, "two", 3.5] });
 * // perl -MStorable=thaw -e '...thaw($bytes)' gives { event => ..., params => [1, 'two', '3.5'] }
 * ```
 */
export function nfreeze(value: PerlInput, options?: FreezeOptions): Uint8Array {
  return (options ? new StorableEncoder(options) : (defaultEncoder ??= new StorableEncoder())).encode(value);
}

// ---- helpers ---------------------------------------------------------------------------

/** Values that stand for a Perl reference (what Perl can freeze at the root or list in a hook). */
function isReferenceLike(v: unknown): boolean {
  if (typeof v !== "object" || v === null) return false;
  if (v instanceof Uint8Array || v instanceof PerlVString) return false;
  return true;
}

function utf8Bytes(s: string): Uint8Array {
  const out = new Uint8Array(s.length * 3);
  return out.subarray(0, utf8EncodeInto(s, 0, out, 0));
}

/** Perl sorts canonical keys by code point (UTF-8 byte order), not by UTF-16 unit. */
function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) {
      // Surrogates (astral characters) sort after the rest of the BMP.
      const xs = x >= 0xd800 && x <= 0xdfff;
      const ys = y >= 0xd800 && y <= 0xdfff;
      if (xs !== ys) return xs ? 1 : -1;
      return x - y;
    }
  }
  return a.length - b.length;
}

/** Rewrites non-ASCII pattern characters as `\x{HEX}` (a preceding escaping backslash included). */
function escapeRegexpNonAscii(p: string): string {
  if (isAsciiString(p)) return p;
  let out = "";
  let backslashes = 0;
  for (let i = 0; i < p.length; i++) {
    let c = p.charCodeAt(i);
    if (c < 0x80) {
      out += p[i];
      backslashes = c === 0x5c ? backslashes + 1 : 0;
      continue;
    }
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < p.length) {
      const d = p.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    // "\é" is a literal é: drop the escaping backslash, \x{..} is literal already.
    if (backslashes % 2 === 1) out = out.slice(0, -1);
    out += `\\x{${c.toString(16)}}`;
    backslashes = 0;
  }
  return out;
}

// ---- UTF-8 encoding --------------------------------------------------------------------

let textEncoder: TextEncoder | undefined;

/**
 * Writes `str` from index `from` as UTF-8 at `pos` (the caller reserved 3 bytes per
 * UTF-16 unit); returns the new position. Lone surrogates become 3-byte sequences, as
 * in Perl, so Perl gets the code point back.
 */
function utf8EncodeInto(str: string, from: number, buf: Uint8Array, pos: number): number {
  const n = str.length;
  for (let i = from; i < n; i++) {
    let c = str.charCodeAt(i);
    if (c < 0x80) {
      buf[pos++] = c;
    } else if (c < 0x800) {
      buf[pos++] = 0xc0 | (c >> 6);
      buf[pos++] = 0x80 | (c & 0x3f);
    } else {
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
        const d = str.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          i++;
          buf[pos++] = 0xf0 | (c >> 18);
          buf[pos++] = 0x80 | ((c >> 12) & 0x3f);
          buf[pos++] = 0x80 | ((c >> 6) & 0x3f);
          buf[pos++] = 0x80 | (c & 0x3f);
          continue;
        }
      }
      buf[pos++] = 0xe0 | (c >> 12);
      buf[pos++] = 0x80 | ((c >> 6) & 0x3f);
      buf[pos++] = 0x80 | (c & 0x3f);
    }
  }
  return pos;
}

/**
 * Strings up to this length are written by a JS loop even when a native writer exists: below it
 * the call costs more than the loop (measured on Node and Bun, flat from 16 to 48).
 */
const SHORT_STRING = 16;

type Utf8Write = (this: Uint8Array, str: string, offset: number) => number;

/**
 * Node's and Bun's Buffer#utf8Write works on any Uint8Array and writes without the view that
 * TextEncoder#encodeInto needs per call: 1.2x (Node) to 2.5x (Bun) faster on the strings-heavy
 * payload. Deno's is slower than its encodeInto, so it is not used there. Used only when present
 * and proven right (offset, 1- to 4-byte sequences, byte count); speed only, same bytes.
 */
const nativeUtf8Write: Utf8Write | undefined = (() => {
  try {
    if (typeof (globalThis as { Deno?: unknown }).Deno !== "undefined") return undefined;
    const f = (globalThis as { Buffer?: { prototype?: { utf8Write?: unknown } } }).Buffer?.prototype?.utf8Write;
    if (typeof f !== "function") return undefined;
    const probe = "a\u00e9\u2713\u{1f600}z";
    const want = [0x61, 0xc3, 0xa9, 0xe2, 0x9c, 0x93, 0xf0, 0x9f, 0x98, 0x80, 0x7a];
    const b = new Uint8Array(3 + want.length + 2);
    const n = f.call(b.subarray(1), probe, 2);
    if (n !== want.length || b[0] !== 0 || b[1] !== 0 || b[2] !== 0) return undefined;
    for (let i = 0; i < want.length; i++) if (b[3 + i] !== want[i]) return undefined;
    return f as Utf8Write;
  } catch {
    return undefined;
  }
})();

/** Long well-formed strings natively (lone surrogates would be replaced there); -1 if not usable. */
function utf8EncodeLong(str: string, buf: Uint8Array, pos: number): number {
  const wf = (str as { isWellFormed?: () => boolean }).isWellFormed;
  if (typeof wf !== "function" || !wf.call(str)) return -1;
  if (nativeUtf8Write !== undefined) return pos + nativeUtf8Write.call(buf, str, pos);
  textEncoder ??= new TextEncoder();
  return pos + textEncoder.encodeInto(str, buf.subarray(pos)).written;
}
