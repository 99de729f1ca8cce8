// The Storable codec against real Perl (Storable 3.26), in both directions.
// Perl side: tests/perl/storable-corpus.pl (emit / check / roundtrip / expected).
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { perlMissing, repoPath } from "./helpers/perl.ts";
import { nfreeze, thaw, type ThawOptions } from "../src/core/storable/mod.ts";
import {
  bless,
  blessedClass,
  PerlRef,
  PerlRegexp,
  type PerlValue,
  PerlVString,
  StorableHook,
} from "../src/core/perl.ts";
import { CodecError } from "../src/core/errors.ts";

const skip = perlMissing("Hash::Util", "Scalar::Util");
const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const u8 = (...b: number[]): Uint8Array => new Uint8Array(b);

// ---------------------------------------------------------------- plumbing

/** Runs tests/perl/storable-corpus.pl in `mode`, feeding `input` on stdin. */
function corpusScript(mode: string, input: Uint8Array = new Uint8Array(0)): Uint8Array {
  const r = spawnSync("perl", [repoPath("tests/perl/storable-corpus.pl"), mode], {
    input,
    maxBuffer: 1 << 30,
  });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`storable-corpus.pl ${mode} failed (${r.status}): ${r.stderr?.toString()}`);
  return new Uint8Array(r.stdout.buffer, r.stdout.byteOffset, r.stdout.byteLength);
}

/** `pack("N/a* N/a*", name, bytes)` records, the corpus script's framing. */
function packRecords(records: Array<[string, Uint8Array]>): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const [name, bytes] of records) {
    const n = enc(name);
    const head = new Uint8Array(4 + n.length + 4);
    const dv = new DataView(head.buffer);
    dv.setUint32(0, n.length);
    head.set(n, 4);
    dv.setUint32(4 + n.length, bytes.length);
    parts.push(head, bytes);
  }
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function unpackRecords(buf: Uint8Array): Map<string, Uint8Array> {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out = new Map<string, Uint8Array>();
  let o = 0;
  while (o < buf.length) {
    const nl = dv.getUint32(o);
    const name = new TextDecoder().decode(buf.subarray(o + 4, o + 4 + nl));
    o += 4 + nl;
    const bl = dv.getUint32(o);
    out.set(name, buf.slice(o + 4, o + 4 + bl));
    o += 4 + bl;
  }
  assert.equal(o, buf.length, "record stream ends cleanly");
  return out;
}

let corpusCache: Map<string, Uint8Array> | undefined;
/** Every corpus case frozen by Perl: "n:NAME" (nfreeze) and "f:NAME" (native freeze). */
function perlCorpus(): Map<string, Uint8Array> {
  return (corpusCache ??= unpackRecords(corpusScript("emit")));
}

function image(name: string): Uint8Array {
  const b = perlCorpus().get(name);
  assert.ok(b, `corpus has no case ${name}`);
  return b;
}

// ---------------------------------------------------------------- comparison

/** A plain object whose keys may include "__proto__" as an own data property. */
function obj(entries: Array<[string, PerlValue]>): Record<string, PerlValue> {
  const o: Record<string, PerlValue> = {};
  for (const [k, v] of entries) {
    Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return o;
}

function show(v: unknown): string {
  if (typeof v === "bigint") return `${v}n`;
  if (typeof v === "string") return JSON.stringify(v.length > 80 ? v.slice(0, 80) + "…" : v);
  if (v instanceof Uint8Array) {
    return `Uint8Array(${v.length})[${Array.from(v.subarray(0, 16)).join(",")}${v.length > 16 ? ",…" : ""}]`;
  }
  if (Array.isArray(v)) return `Array(${v.length})`;
  if (v !== null && typeof v === "object") {
    return `${v.constructor?.name ?? "Object(null proto)"} {${Object.keys(v).slice(0, 8).join(",")}}`;
  }
  return String(v);
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** `Regexp` is the class every qr// has; treating it as "no class" lets both representations match. */
function classOf(v: object): string | undefined {
  const c = blessedClass(v);
  return v instanceof PerlRegexp && c === "Regexp" ? undefined : c;
}

/**
 * Deep, strict comparison that also proves the object graph has the same shape: a bijection
 * between actual and expected objects, so shared references and cycles must be preserved exactly
 * (and nothing may be shared that should not be).
 */
function assertGraph(actual: unknown, expected: unknown, where = "$"): void {
  const a2e = new Map<object, object>();
  const e2a = new Map<object, object>();
  const fail = (p: string, what: string, a: unknown, e: unknown): never =>
    assert.fail(`${where}${p.slice(1)}: ${what}: expected ${show(e)}, got ${show(a)}`);
  const walk = (a: unknown, e: unknown, p: string): void => {
    if (e === null || typeof e !== "object") {
      if (!Object.is(a, e)) fail(p, "value differs", a, e);
      return;
    }
    if (a === null || typeof a !== "object") return fail(p, "expected an object", a, e);
    if (a2e.has(a) || e2a.has(e)) {
      if (a2e.get(a) !== e || e2a.get(e) !== a) {
        fail(p, "identity differs (shared/cyclic structure not preserved)", a, e);
      }
      return;
    }
    a2e.set(a, e);
    e2a.set(e, a);
    if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(e)) fail(p, "prototype/type differs", a, e);
    if (!(e instanceof StorableHook) && classOf(a) !== classOf(e)) {
      fail(p, `blessed class differs (${classOf(a)} vs ${classOf(e)})`, a, e);
    }
    if (e instanceof Uint8Array) {
      if (!bytesEqual(a as Uint8Array, e)) fail(p, "bytes differ", a, e);
    } else if (e instanceof PerlRef) {
      const ar = a as PerlRef;
      if (ar.weak !== e.weak) fail(p, `weak flag differs (${ar.weak} vs ${e.weak})`, a, e);
      walk(ar.value, e.value, `${p}.value`);
    } else if (e instanceof PerlRegexp) {
      const ar = a as PerlRegexp;
      if (ar.pattern !== e.pattern || ar.flags !== e.flags) {
        fail(p, "regexp differs", `/${ar.pattern}/${ar.flags}`, `/${e.pattern}/${e.flags}`);
      }
    } else if (e instanceof PerlVString) {
      const ar = a as PerlVString;
      if (ar.vstring !== e.vstring) fail(p, "vstring literal differs", ar.vstring, e.vstring);
      walk(ar.value, e.value, `${p}.value`);
    } else if (e instanceof StorableHook) {
      const ar = a as StorableHook;
      if (ar.className !== e.className) fail(p, "hook class differs", ar.className, e.className);
      if (ar.kind !== e.kind) fail(p, "hook kind differs", ar.kind, e.kind);
      if (!bytesEqual(ar.frozen, e.frozen)) fail(p, "hook frozen string differs", ar.frozen, e.frozen);
      walk(ar.refs, e.refs, `${p}.refs`);
    } else if (Array.isArray(e)) {
      const aa = a as unknown[];
      if (aa.length !== e.length) fail(p, `array length differs (${aa.length} vs ${e.length})`, a, e);
      for (let i = 0; i < e.length; i++) {
        if (!(i in aa)) fail(`${p}[${i}]`, "array hole", undefined, e[i]);
        walk(aa[i], e[i], `${p}[${i}]`);
      }
    } else {
      const keys = (o: object) => Reflect.ownKeys(o).filter((k): k is string => typeof k === "string").sort();
      const ka = keys(a);
      const ke = keys(e);
      if (ka.length !== ke.length || ka.some((k, i) => k !== ke[i])) {
        fail(p, "keys differ", JSON.stringify(ka.slice(0, 20)), JSON.stringify(ke.slice(0, 20)));
      }
      for (const k of ke) {
        const d = Object.getOwnPropertyDescriptor(a, k)!;
        if (!("value" in d) || !d.enumerable) fail(`${p}.${k}`, "not an enumerable data property", d, "data property");
        walk(d.value, (e as Record<string, unknown>)[k], `${p}[${JSON.stringify(k)}]`);
      }
    }
  };
  walk(actual, expected, "$");
}

/**
 * What `v` becomes on the wire with default options (FreezeOptions / ThawOptions defaults):
 * undefined -> null, booleans -> "1" / "" (booleans: "yesno"), numbers outside int32 and
 * bigints outside int32 -> their decimal strings (network order has no binary numbers),
 * ASCII-only Uint8Array -> string (bytes: "auto"), Map -> hash. Identity is preserved.
 */
function wire(v: PerlValue): PerlValue {
  const memo = new Map<object, PerlValue>();
  const keepClass = <T extends object>(from: object, to: T): T => {
    const c = blessedClass(from);
    return c === undefined ? to : bless(to, c);
  };
  const go = (x: PerlValue): PerlValue => {
    if (x === undefined || x === null) return null;
    if (typeof x === "boolean") return x ? "1" : "";
    if (typeof x === "bigint") return x >= -(2n ** 31n) && x < 2n ** 31n ? Number(x) : x.toString();
    if (typeof x === "number") {
      if ((x | 0) === x) return x | 0;
      return Number.isNaN(x) ? "NaN" : x === Infinity ? "Inf" : x === -Infinity ? "-Inf" : String(x);
    }
    if (typeof x === "string") return x;
    if (x instanceof Uint8Array) return x.every((b) => b < 0x80) ? String.fromCharCode(...x) : x.slice();
    const done = memo.get(x);
    if (done !== undefined) return done;
    if (x instanceof PerlRef) {
      const r = keepClass(x, new PerlRef(null, x.weak));
      memo.set(x, r);
      r.value = go(x.value);
      return r;
    }
    if (x instanceof PerlRegexp) {
      const r = keepClass(x, new PerlRegexp(x.pattern, x.flags));
      memo.set(x, r);
      return r;
    }
    if (x instanceof PerlVString) return new PerlVString(x.vstring, go(x.value));
    if (x instanceof StorableHook) {
      const h = new StorableHook(x.className, x.kind, x.frozen, []);
      memo.set(x, h);
      h.refs = x.refs.map(go);
      return h;
    }
    if (Array.isArray(x)) {
      const a = keepClass(x, [] as PerlValue[]);
      memo.set(x, a);
      for (const e of x) a.push(go(e));
      return a;
    }
    const entries = x instanceof Map ? [...(x as Map<string, PerlValue>)] : Object.entries(x);
    const o = keepClass(x, {} as Record<string, PerlValue>);
    memo.set(x, o);
    for (const [k, e] of entries) {
      Object.defineProperty(o, k, { value: go(e), enumerable: true, writable: true, configurable: true });
    }
    return o;
  };
  return go(v);
}

// ---------------------------------------------------------------- (a) Perl -> JS

type Expect = (native: boolean) => unknown;

const pattern1MiB = (): Uint8Array => {
  const b = new Uint8Array(1 << 20);
  for (let i = 0; i < b.length; i++) b[i] = (i * 7) & 255;
  return b;
};
const LONG_CLASS = "A::" + "Long".repeat(40);
/** storable-corpus.pl's hook_large(): every SX_HOOK length past one byte (string, list, class name). */
const LONG_HOOK_CLASS = "My::HookedMany::" + "Long".repeat(70);
const hookLarge = (): StorableHook =>
  new StorableHook(LONG_HOOK_CLASS, "hash", enc("k".repeat(300)), Array.from({ length: 300 }, (_, i) => [i + 1]));
/** v1.2.....100: its literal is longer than 255 bytes (SX_LVSTRING). */
const longVString = (): PerlVString =>
  new PerlVString(
    "v" + Array.from({ length: 100 }, (_, i) => i + 1).join("."),
    String.fromCharCode(...Array.from({ length: 100 }, (_, i) => i + 1)),
  );
const nestedArray = (n: number): unknown => {
  let x: unknown = "bottom";
  for (let i = 0; i < n; i++) x = [x];
  return x;
};
const nestedHash = (n: number): unknown => {
  let x: unknown = "bottom";
  for (let i = 0; i < n; i++) x = { d: x };
  return x;
};

/** Expected JS value of each corpus case; `native` is true for the `freeze` (native order) image. */
const CORPUS: Record<string, Expect> = {
  undef_root: () => new PerlRef(null),
  undef_scalar_root: () => new PerlRef(null),
  undefs: () => [null, null, [null, null, null, "end"]],
  empty_string: () => [""],
  ascii: () => ["hello, world", "line\nbreak\ttab"],
  latin1_bytes: () => [u8(0x63, 0x61, 0x66, 0xe9), u8(0xff, 0x80, 0x00, 0x7f)],
  binary_nul: () => [u8(0x61, 0, 0x62, 0, 0, 0xff), "\0\0\0"],
  utf8_text: () => ["é", "日本語", "😀", "mixed é 日 😀 a"],
  mid_strings: () =>
    [15, 16, 17, 33, 40, 85, 200].flatMap((l) => [
      ...["a", "\u00e9", "\u65e5", "\u{1f600}", "\uD800", "\uFFFD"].map((x) => "a".repeat(l) + x + "b".repeat(l % 5)),
      ...[[0xe9], [0xc3, 0xa9], [0xef, 0xbf, 0xbd], [0xed, 0xa0, 0x80]].map((x) =>
        new Uint8Array([...new Array(l).fill(0x61), ...x, 0x7a])
      ),
    ]),
  integers: (native) => [
    0,
    -1,
    1,
    127,
    128,
    -128,
    -129,
    255,
    256,
    32767,
    -32768,
    65535,
    2147483647,
    ...(native
      ? [
        2147483648,
        -2147483648,
        -2147483649,
        4294967296,
        9007199254740991,
        -9007199254740991,
        9007199254740993n,
        -9007199254740993n,
        9223372036854775807n,
        -9223372036854775808n,
      ]
      : [
        "2147483648",
        -2147483648,
        "-2147483649",
        "4294967296",
        "9007199254740991",
        "-9007199254740991",
        "9007199254740993",
        "-9007199254740993",
        "9223372036854775807",
        "-9223372036854775808",
      ]),
  ],
  uv_max: () => ["18446744073709551615"],
  doubles: (native) =>
    native ? [2.5, -0.1, 1e300, -1.5e-300, 3, 0.5] : ["2.5", "-0.1", "1e+300", "-1.5e-300", 3, "0.5"],
  specials: (native) => native ? [Infinity, -Infinity, NaN] : ["Inf", "-Inf", "NaN"],
  numeric_strings: () => ["42", "3.14", "007", "1e3", " 5", "-0", "0x10", "12345678901234567890"],
  long_ascii: () => ["x".repeat(300)],
  long_utf8: () => ["é".repeat(300)],
  boundary_strings: () => ["a".repeat(255), "b".repeat(256), "é".repeat(127), "é".repeat(128)],
  mib_binary: () => [pattern1MiB()],
  mib_ascii: () => ["abcdefghijklmnop".repeat(65536)],
  array_100k: () => Array.from({ length: 100000 }, (_, i) => i),
  hash_10k: () => Object.fromEntries(Array.from({ length: 10000 }, (_, i) => [`k${i}`, i])),
  nested_array_50: () => nestedArray(50),
  nested_hash_50: () => nestedHash(50),
  keys: () =>
    obj([
      ["é", 1],
      ["日本", 2],
      ["😀", 3],
      ["__proto__", 4],
      ["constructor", 5],
      ["prototype", 6],
      ["hasOwnProperty", 7],
      ["", 8],
      ["a\0b", 9],
      ["toString", 10],
    ]),
  proto_values: () => obj([["__proto__", { polluted: 1 }], ["constructor", { prototype: { polluted: 1 } }]]),
  latin1_key: () => ({ "café": 1 }),
  restricted: () => ({ a: 1, b: [2] }),
  locked: () => ({ a: 1, s: "x" }),
  restricted_placeholder: () => ({ a: 1 }),
  scalar_refs: () => ({ r: new PerlRef("text"), n: new PerlRef(42), u: new PerlRef(null), e: new PerlRef("") }),
  ref_to_ref: () => ({
    rr: new PerlRef(new PerlRef("x")),
    rh: new PerlRef({ a: 1 }),
    ra: new PerlRef([1]),
    rrr: new PerlRef(new PerlRef(new PerlRef("deep"))),
  }),
  root_scalar: () => new PerlRef("hello"),
  root_int: () => new PerlRef(42),
  root_ref_ref: () => new PerlRef(new PerlRef("x")),
  blessed: () => ({
    h: bless({ a: 1 }, "My::Hash"),
    a: bless([1, 2], "My::Array"),
    s: bless(new PerlRef("sv"), "My::Scalar"),
    e: bless({}, "Empty::Class"),
  }),
  blessed_root: () => bless({ x: 1 }, "Root::Class"),
  same_class: () => [
    bless({ n: 1 }, "Same"),
    bless({ n: 2 }, "Same"),
    bless([], "Other"),
    bless({ n: 3 }, "Same"),
    bless(new PerlRef(1), "Other"),
  ],
  long_class: () => [bless({}, LONG_CLASS), bless([], LONG_CLASS)],
  shared: () => {
    const h = { v: 1 };
    return { a: h, b: h, list: [h, h] };
  },
  shared_scalar_ref: () => {
    const x = new PerlRef("s"); // every ref to $x is this one PerlRef
    const r = new PerlRef(x); // \$r, whose value is a ref to $x
    return { r1: x, r2: x, rr1: r, rr2: r, c: x };
  },
  cycle_hash: () => {
    const h: Record<string, unknown> = { name: "self" };
    h.self = h;
    return h;
  },
  cycle_array: () => {
    const a: unknown[] = [1];
    a.push(a);
    return a;
  },
  cycle_deep: () => {
    const h: Record<string, unknown> = { name: "root" };
    h.kids = [{ parent: h }, { parent: h }];
    return h;
  },
  cycle_scalar: () => {
    const r = new PerlRef(null);
    r.value = r;
    return { c: r };
  },
  weak: () => {
    const h = { n: 1 };
    return { strong: h, weak: h };
  },
  weak_scalar: () => ({ w: new PerlRef("ws", true) }),
  weak_cycle: () => {
    const h: Record<string, unknown> = { name: "w" };
    h.self = h;
    return h;
  },
  regexp: () => ({
    re: new PerlRegexp("ab+c", "i"),
    re2: new PerlRegexp("^\\d+$", "msx"),
    plain: new PerlRegexp("x", ""),
    blessed_re: bless(new PerlRegexp("y+", ""), "My::Re"),
  }),
  vstring: () => ({ v: new PerlVString("v1.22.333", "\x01\x16\u014d"), ascii: new PerlVString("v65.66", "AB") }),
  hook: () => {
    const h7 = new StorableHook("My::Hooked", "hash", enc("id=7"), [[1, 2]]);
    return [
      h7,
      new StorableHook("My::Hooked", "hash", enc("id=8"), []),
      h7,
      new StorableHook("My::HookedList", "array", enc("3,4"), []),
    ];
  },
  hook_shared_ref: () => {
    const sh = [9];
    return [new StorableHook("My::Hooked", "hash", enc("id=1"), [sh]), sh];
  },
  hook_root: () => new StorableHook("My::Hooked", "hash", enc("id=5"), [{ k: "v" }]),
  hook_large: () => [hookLarge()],
  long_vstring: () => ({ v: longVString() }),
  svundef_elem: () => [null, 1], // SX_SVUNDEF_ELEM: an element that is PL_sv_undef itself
  weak_overload: () => {
    const o = bless({ v: "w" }, "My::Overloaded"); // SX_OVERLOAD, then SX_WEAKOVERLOAD to the same object
    return { s: o, w: o };
  },
  booleans: () => ["1", ""], // Perl 5.36 copies of !!1 / !!0 are frozen as strings
  immortals: () => ({ t: new PerlRef(true), f: new PerlRef(false) }), // \!!1 is PL_sv_yes itself: SX_SV_YES
  overload: () => ({ o: bless({ v: "x" }, "My::Overloaded") }),
};
/** Cases Perl can freeze but JS must refuse with a CodecError. */
const CORPUS_ERRORS = ["err_code", "err_tied_hash", "err_tied_array"];

describe("Storable: Perl -> JS corpus", () => {
  test("corpus script and this file cover the same cases", { skip }, () => {
    const fromPerl = [...perlCorpus().keys()].sort();
    const here = [...Object.keys(CORPUS), ...CORPUS_ERRORS].flatMap((n) => [`n:${n}`, `f:${n}`]).sort();
    assert.deepEqual(fromPerl, here);
  });

  test("images have the expected headers", { skip }, () => {
    for (const [name, bytes] of perlCorpus()) {
      if (name.startsWith("n:")) assert.deepEqual([bytes[0], bytes[1]], [0x05, 0x0b], name);
      else assert.deepEqual([...bytes.subarray(0, 3)], [0x04, 0x0b, 0x08], name); // native: major 2, minor 11, "12345678"
    }
  });

  for (const [name, expect] of Object.entries(CORPUS)) {
    for (const mode of ["n", "f"] as const) {
      test(`${mode === "n" ? "nfreeze" : "freeze"} ${name}`, { skip }, () => {
        assertGraph(thaw(image(`${mode}:${name}`)), expect(mode === "f"));
      });
    }
  }

  for (const name of CORPUS_ERRORS) {
    for (const mode of ["n", "f"]) {
      test(`${mode === "n" ? "nfreeze" : "freeze"} ${name} -> CodecError`, { skip }, () => {
        const bytes = image(`${mode}:${name}`);
        assert.throws(() => thaw(bytes), (e: unknown) => {
          assert.ok(e instanceof CodecError, `expected CodecError, got ${e}`);
          assert.ok(e.offset >= 2 && e.offset <= bytes.length, `offset ${e.offset} within the image`);
          return true;
        });
      });
    }
  }

  test("identity: shared hashes, cycles and refs to the same scalar", { skip }, () => {
    const s = thaw(image("n:shared")) as { a: object; b: object; list: object[] };
    assert.equal(s.a, s.b);
    assert.equal(s.list[0], s.a);
    assert.equal(s.list[1], s.a);
    const c = thaw(image("n:cycle_hash")) as { self: unknown };
    assert.equal(c.self, c);
    const arr = thaw(image("f:cycle_array")) as unknown[];
    assert.equal(arr[1], arr);
    const deep = thaw(image("n:cycle_deep")) as { kids: Array<{ parent: unknown }> };
    assert.equal(deep.kids[0].parent, deep);
    assert.equal(deep.kids[1].parent, deep);
    const sr = thaw(image("n:shared_scalar_ref")) as Record<string, PerlRef>;
    assert.ok(sr.r1 instanceof PerlRef);
    assert.equal(sr.r1, sr.r2, "refs to the same scalar are the same PerlRef");
    assert.equal(sr.r1, sr.c);
    assert.equal(sr.rr1, sr.rr2);
    assert.equal(sr.rr1.value, sr.r1);
    const cs = thaw(image("n:cycle_scalar")) as { c: PerlRef };
    assert.equal(cs.c.value, cs.c);
    const w = thaw(image("n:weak")) as { strong: object; weak: object };
    assert.equal(w.weak, w.strong);
    const wc = thaw(image("n:weak_cycle")) as { self: unknown };
    assert.equal(wc.self, wc);
    const hk = thaw(image("n:hook")) as StorableHook[];
    assert.equal(hk[0], hk[2]);
    const hs = thaw(image("n:hook_shared_ref")) as [StorableHook, unknown];
    assert.equal(hs[0].refs[0], hs[1]);
  });

  test("blessed values and classes (SX_BLESS, SX_IX_BLESS, long names)", { skip }, () => {
    const b = thaw(image("n:blessed")) as Record<string, object>;
    assert.equal(blessedClass(b.h), "My::Hash");
    assert.equal(blessedClass(b.a), "My::Array");
    assert.ok(Array.isArray(b.a));
    assert.ok(b.s instanceof PerlRef);
    assert.equal(blessedClass(b.s), "My::Scalar");
    assert.equal(blessedClass(b), undefined);
    const same = thaw(image("n:same_class")) as object[];
    assert.deepEqual(same.map(blessedClass), ["Same", "Same", "Other", "Same", "Other"]);
    assert.ok(image("n:same_class").includes(18), "image uses SX_IX_BLESS");
    const long = thaw(image("f:long_class")) as object[];
    assert.deepEqual(long.map(blessedClass), [LONG_CLASS, LONG_CLASS]);
  });

  test("__proto__ / constructor keys are own data properties; nothing is polluted", { skip }, () => {
    for (const mode of ["n", "f"]) {
      const v = thaw(image(`${mode}:proto_values`)) as Record<string, unknown>;
      assert.equal(Object.getPrototypeOf(v), Object.prototype);
      assert.ok(Object.hasOwn(v, "__proto__"));
      assert.deepEqual(Object.getOwnPropertyDescriptor(v, "__proto__")?.value, { polluted: 1 });
      assert.equal(typeof v.constructor, "object", "own 'constructor' shadows Object");
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
      assert.equal(Object.prototype.hasOwnProperty.call(Object.prototype, "polluted"), false);
      const k = thaw(image(`${mode}:keys`)) as Record<string, unknown>;
      assert.equal(Object.getOwnPropertyDescriptor(k, "__proto__")?.value, 4);
      assert.equal(Object.getPrototypeOf(k), Object.prototype);
    }
  });

  test("option bytes: 'string' decodes non-UTF8 strings as Latin-1", { skip }, () => {
    assertGraph(thaw(image("n:latin1_bytes"), { bytes: "string" }), ["café", "\xff\x80\x00\x7f"]);
    assertGraph(thaw(image("n:binary_nul"), { bytes: "string" }), ["a\0b\0\0\xff", "\0\0\0"]);
    assertGraph(thaw(image("n:utf8_text"), { bytes: "string" }), ["é", "日本語", "😀", "mixed é 日 😀 a"]);
  });

  test("option bytes: 'bytes' keeps every non-UTF8 string as a Uint8Array", { skip }, () => {
    assertGraph(thaw(image("n:ascii"), { bytes: "bytes" }), [enc("hello, world"), enc("line\nbreak\ttab")]);
    assertGraph(thaw(image("n:binary_nul"), { bytes: "bytes" }), [u8(0x61, 0, 0x62, 0, 0, 0xff), u8(0, 0, 0)]);
    assertGraph(thaw(image("n:empty_string"), { bytes: "bytes" }), [new Uint8Array(0)]);
    // UTF-8 flagged strings are text whatever the option
    assertGraph(thaw(image("n:utf8_text"), { bytes: "bytes" }), ["é", "日本語", "😀", "mixed é 日 😀 a"]);
  });

  test("option numericStrings: 'number' turns network-order doubles and big ints into numbers", { skip }, () => {
    assertGraph(thaw(image("n:doubles"), { numericStrings: "number" }), [2.5, -0.1, 1e300, -1.5e-300, 3, 0.5]);
    const ints = thaw(image("n:integers"), { numericStrings: "number" }) as unknown[];
    assertGraph(ints.slice(0, 19), [
      0,
      -1,
      1,
      127,
      128,
      -128,
      -129,
      255,
      256,
      32767,
      -32768,
      65535,
      2147483647,
      2147483648,
      -2147483648,
      -2147483649,
      4294967296,
      9007199254740991,
      -9007199254740991,
    ]);
    // Native images carry real numbers; the option changes nothing there.
    assertGraph(thaw(image("f:doubles"), { numericStrings: "number" }), [2.5, -0.1, 1e300, -1.5e-300, 3, 0.5]);
  });
});

// ---------------------------------------------------------------- (b) JS -> Perl

const INT_CASES = [
  0,
  -1,
  1,
  127,
  128,
  -128,
  -129,
  255,
  256,
  32767,
  65536,
  2147483647,
  2147483648,
  -2147483648,
  -2147483649,
  2 ** 53,
  -(2 ** 53),
  Number.MAX_SAFE_INTEGER,
];

/** Values built in JS; storable-corpus.pl `check` builds the same in Perl (%EXPECT) and compares. */
function jsCases(): Record<string, PerlValue> {
  const perlHook = thaw(image("n:hook")) as StorableHook[]; // [h7, h8, h7, list] as Perl froze them
  let nested: PerlValue = "bottom";
  for (let i = 1; i <= 50; i++) nested = [nested, { level: i }];
  const shared = { v: 1 };
  const sharedArr = [1, 2];
  const cycle: Record<string, PerlValue> = { name: "self" };
  cycle.self = cycle;
  const cycleArr: PerlValue[] = [1];
  cycleArr.push(cycleArr);
  const root: Record<string, PerlValue> = { name: "root" };
  root.kids = [{ parent: root }, { parent: root }];
  const selfRef = new PerlRef(null);
  selfRef.value = selfRef;
  const sref = new PerlRef("s");
  return {
    str_ascii: ["hello", "", "line\nbreak", "tab\there", "nul\0byte"],
    str_non_ascii: ["café", "日本語", "😀", "é".repeat(300), "mixed é 日 😀"],
    str_lone_surrogate: ["a\uD800b", "\uDC00", "\uD83Dx"],
    // around every length where the writer changes strategy (JS loop, native write, 1-byte length)
    str_lengths: [15, 16, 17, 40, 84, 85, 86, 200, 300].flatMap((l) =>
      ["a", "\u00e9", "\u65e5", "\u{1f600}", "\uD800"].map((x) => "a".repeat(l) + x + "b".repeat(l % 7))
    ),
    bytes: [u8(0, 1, 255, 128), new Uint8Array(0), enc("plain"), u8(0xe9)],
    ints: INT_CASES,
    floats: [2.5, -0.1, 1e300, 1.5e-300, 0.1 + 0.2, -1e-7, 123456.789],
    float_specials: [Infinity, -Infinity, NaN, -0],
    bigints: [2n ** 63n - 1n, -(2n ** 63n), 2n ** 64n - 1n, 12345n, 2n ** 100n, -1n],
    booleans: [true, false, { t: true, f: false }],
    nulls: [null, undefined, 1, null, { a: null, b: undefined, c: 0 }],
    nested,
    shared: { a: shared, b: shared, list: [shared, shared] },
    shared_array: [sharedArr, sharedArr, { x: sharedArr }],
    cycle_hash: cycle,
    cycle_array: cycleArr,
    cycle_deep: root,
    cycle_ref: { c: selfRef },
    refs: {
      r: new PerlRef("text"),
      n: new PerlRef(42),
      u: new PerlRef(null),
      rr: new PerlRef(new PerlRef("x")),
      rh: new PerlRef({ a: 1 }),
      ra: new PerlRef([1]),
    },
    shared_ref: { r1: sref, r2: sref },
    root_ref: new PerlRef("hello"),
    blessed: {
      h: bless({ a: 1 }, "My::Hash"),
      a: bless([1, 2], "My::Array"),
      s: bless(new PerlRef("sv"), "My::Scalar"),
      two: [bless({ n: 1 }, "Same"), bless({ n: 2 }, "Same"), bless([], "Same")],
    },
    blessed_root: bless({ x: 1 }, "Root::Class"),
    long_class: [bless({}, LONG_CLASS)],
    proto_keys: obj([["__proto__", 1], ["constructor", 2], ["prototype", 3], [
      "hasOwnProperty",
      obj([["__proto__", []]]),
    ]]),
    map_input: new Map<string, PerlValue>([["a", 1], ["b", [2]], ["é", "x"]]) as unknown as PerlValue,
    utf8_keys: { "é": 1, "日本": 2, "😀": 3, "a\0b": 4, "": 5 },
    hook_from_perl: [perlHook[0], perlHook[1]],
    hook_shared: [perlHook[0], perlHook[2], perlHook[3]],
    hook_built_in_js: new StorableHook("My::Hooked", "hash", enc("id=js"), [{ from: "js" }]),
    regexp: { re: new PerlRegexp("ab+c", "i"), re2: new PerlRegexp("^\\d+$", "msx"), plain: new PerlRegexp("x") },
    vstring: { v: new PerlVString("v1.22.333", "\x01\x16\u014d"), ascii: new PerlVString("v65.66", "AB") },
    long_vstring: { v: longVString() },
    hook_large: [hookLarge(), hookLarge()],
    large_string: ["abcdefghijklmnop".repeat(65536)],
    large_bytes: [pattern1MiB()],
    large_array: Array.from({ length: 100000 }, (_, i) => i),
    large_hash: Object.fromEntries(Array.from({ length: 10000 }, (_, i) => [`k${i}`, i])),
  };
}

let checkCache: Map<string, string> | undefined;
/** Perl's verdict ("ok" or the failure text) per JS case. */
function perlVerdicts(): Map<string, string> {
  if (checkCache) return checkCache;
  const records = Object.entries(jsCases()).map(([name, v]): [string, Uint8Array] => [name, nfreeze(v)]);
  const out = new TextDecoder().decode(corpusScript("check", packRecords(records)));
  const verdicts = new Map<string, string>();
  for (const line of out.split("\n")) {
    const m = /^(not ok|ok) (\S+)(?: - (.*))?$/.exec(line);
    if (m) verdicts.set(m[2], m[1] === "ok" ? "ok" : m[3] ?? "not ok");
  }
  return (checkCache = verdicts);
}

const JS_CASE_NAMES = [
  "str_ascii",
  "str_non_ascii",
  "str_lone_surrogate",
  "str_lengths",
  "bytes",
  "ints",
  "floats",
  "float_specials",
  "bigints",
  "booleans",
  "nulls",
  "nested",
  "shared",
  "shared_array",
  "cycle_hash",
  "cycle_array",
  "cycle_deep",
  "cycle_ref",
  "refs",
  "shared_ref",
  "root_ref",
  "blessed",
  "blessed_root",
  "long_class",
  "proto_keys",
  "map_input",
  "utf8_keys",
  "hook_from_perl",
  "hook_shared",
  "hook_built_in_js",
  "regexp",
  "vstring",
  "long_vstring",
  "hook_large",
  "large_string",
  "large_bytes",
  "large_array",
  "large_hash",
];

describe("Storable: JS -> Perl (Perl thaws and compares)", () => {
  test(
    "the checker is real: Perl's own images pass, except where Storable 3.26 itself loses information",
    { skip },
    () => {
      const out = new TextDecoder().decode(corpusScript("check", corpusScript("expected")));
      const bad = out.split("\n").filter((l) => l.startsWith("not ok")).map((l) => l.split(" ")[2]).sort();
      // Storable 3.26 freezes 0.1+0.2 as "0.3" (15 significant digits): the numeric check must notice.
      assert.deepEqual(bad, ["floats"]);
      assert.equal(out.split("\n").filter((l) => l.startsWith("ok ")).length, JS_CASE_NAMES.length - 1);
    },
  );

  test("case lists agree", { skip }, () => {
    assert.deepEqual(Object.keys(jsCases()).sort(), [...JS_CASE_NAMES].sort());
  });

  for (const name of JS_CASE_NAMES) {
    test(name, { skip }, () => {
      const verdict = perlVerdicts().get(name);
      assert.equal(verdict, "ok", `Perl says: ${verdict ?? "no verdict"}`);
    });
  }

  test(
    "booleans: 'storable3.32' writes SX_BOOLEAN_TRUE/FALSE, which JS reads and Storable 3.26 refuses",
    { skip },
    () => {
      const img = nfreeze([true, false], { booleans: "storable3.32" });
      assert.deepEqual([...img.subarray(7)], [34, 35]);
      assert.deepEqual(thaw(img), [true, false]);
      const r = spawnSync("perl", ["-MStorable=thaw", "-e", "binmode STDIN; local $/; thaw(<STDIN>); print 'thawed'"], {
        input: img,
      });
      assert.notEqual(r.stdout.toString(), "thawed", "Storable 3.26 is expected to reject opcodes 34/35");
    },
  );

  test("integers arrive as integers, not strings or doubles", { skip }, () => {
    const script = String.raw`
      use Storable qw(thaw); use B; binmode STDIN; local $/; my $a = thaw(<STDIN>);
      print join(",", map { my $f = B::svref_2object(\$_)->FLAGS; ($f & B::SVf_IOK) ? "i" : ($f & B::SVf_POK) ? "s" : "n" } @$a);`;
    const r = spawnSync("perl", ["-e", script], {
      input: nfreeze([0, 100, -100, 70000, -70000, 2147483647, -2147483648]),
    });
    assert.equal(r.status, 0, r.stderr?.toString());
    assert.equal(r.stdout.toString(), "i,i,i,i,i,i,i");
  });
});

// ---------------------------------------------------------------- (c) JS -> Perl -> JS

/** What a JS value becomes after nfreeze -> Perl thaw + nfreeze -> thaw (default options). */
function throughPerl(values: PerlValue[], options?: ThawOptions): PerlValue[] {
  const records = values.map((v, i): [string, Uint8Array] => [String(i), nfreeze(v)]);
  const back = unpackRecords(corpusScript("roundtrip", packRecords(records)));
  return values.map((_, i) => {
    const r = back.get(String(i));
    assert.ok(r, `no answer for value ${i}`);
    if (r[0] !== 0x4f) assert.fail(`Perl could not thaw value ${i}: ${new TextDecoder().decode(r.subarray(1))}`);
    return thaw(r.subarray(1), options);
  });
}

/** Small deterministic PRNG (mulberry32). */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Random values that survive the Perl round trip unchanged (see the property suite for the rest). */
function randomValue(rnd: () => number, depth: number): PerlValue {
  const pick = Math.floor(rnd() * (depth > 3 ? 6 : 10));
  const strings = ["", "a", "hello world", "é", "日本語", "😀 x", "__proto__", "ñandú", "a\0b", "x".repeat(300)];
  switch (pick) {
    case 0:
      return null;
    case 1:
      return Math.floor(rnd() * 2 ** 32) - 2 ** 31;
    case 2:
      return strings[Math.floor(rnd() * strings.length)];
    case 3:
      return u8(...Array.from({ length: 1 + Math.floor(rnd() * 20) }, () => 128 + Math.floor(rnd() * 128)));
    case 4:
      return rnd() < 0.5;
    case 5:
      return Math.floor(rnd() * 256) - 128;
    case 6:
      return Array.from({ length: Math.floor(rnd() * 5) }, () => randomValue(rnd, depth + 1));
    case 7: {
      const o: Array<[string, PerlValue]> = [];
      for (let i = Math.floor(rnd() * 5); i > 0; i--) {
        o.push([strings[Math.floor(rnd() * strings.length)] + i, randomValue(rnd, depth + 1)]);
      }
      return obj(o);
    }
    case 8:
      return new PerlRef(randomValue(rnd, depth + 1));
    default:
      return bless(obj([["v", randomValue(rnd, depth + 1)]]), rnd() < 0.5 ? "Rand::A" : "Rand::B");
  }
}

describe("Storable: JS -> Perl -> JS round trip", () => {
  test("hand-picked values come back identical", { skip }, () => {
    const perlHook = thaw(image("n:hook")) as StorableHook[];
    const shared = { v: [1, 2] };
    const cyc: Record<string, PerlValue> = { name: "c" };
    cyc.me = cyc;
    const r = new PerlRef("s");
    const selfRef = new PerlRef(null);
    selfRef.value = selfRef;
    const values: PerlValue[] = [
      { a: 1, b: "two", c: [1, 2, 3], d: null },
      ["é", "日本語", "😀", "ascii", ""],
      [u8(0xff, 0, 0x80), u8(0xe9)],
      [0, -1, 127, 128, -129, 2147483647, -2147483648],
      [true, false, { t: true }, new PerlRef(true), undefined, [undefined]],
      [new PerlRef("x"), new PerlRef(new PerlRef(5)), new PerlRef({ k: [1] }), new PerlRef(null)],
      [r, r, new PerlRef(r)],
      { c: selfRef },
      [bless({ a: 1 }, "X::Y"), bless([1], "X::Y"), bless(new PerlRef("s"), "X::Z")],
      { s1: shared, s2: shared, deep: [[shared]] },
      cyc,
      obj([["__proto__", { x: 1 }], ["constructor", 2], ["é", 3], ["日本", 4]]),
      [new PerlRegexp("ab+c", "i"), new PerlRegexp("^x$", "m")],
      { v: new PerlVString("v1.22.333", "\x01\x16\u014d") },
      [perlHook[0], perlHook[1], perlHook[0], perlHook[3]],
      new PerlRef("root scalar"),
      bless({ root: true }, "Root::Blessed"),
      Array.from({ length: 5000 }, (_, i) => ({ i, s: `item ${i}` })),
      // identity across the writer's switch from a scan to a Map (after 16 objects)...
      (() => {
        const early = { early: 1 };
        const items = Array.from({ length: 20 }, (_, i) => ({ i }));
        return [early, ...items, early, items[3], items[19]];
      })(),
      // ...and a hash rewritten as SX_FLAG_HASH (key "é" comes last) after its values crossed it
      (() => {
        const early = [0];
        const inner = Array.from({ length: 20 }, (_, i) => [i]);
        return [early, { a: early, b: inner, "é": inner[5] }, inner[5], inner[19], early];
      })(),
    ];
    const back = throughPerl(values);
    values.forEach((v, i) => assertGraph(back[i], wire(v), `value ${i}`));
  });

  test("Map input comes back as a plain hash", { skip }, () => {
    const [back] = throughPerl([new Map<string, PerlValue>([["a", 1], ["é", [2]]]) as unknown as PerlValue]);
    assertGraph(back, { a: 1, "é": [2] });
  });

  test("numbers Perl keeps as strings in network order come back as their decimal strings", { skip }, () => {
    const nums = [
      2.5,
      -0.1,
      1e300,
      2 ** 40,
      -(2 ** 40),
      2n ** 63n - 1n,
      2n ** 64n - 1n,
      -(2n ** 63n),
      NaN,
      Infinity,
      -Infinity,
      -0,
      5n,
    ];
    const [back] = throughPerl([nums]);
    assertGraph(back, [
      "2.5",
      "-0.1",
      "1e+300",
      "1099511627776",
      "-1099511627776",
      "9223372036854775807",
      "18446744073709551615",
      "-9223372036854775808",
      "NaN",
      "Inf",
      "-Inf",
      0,
      5,
    ]);
    const [asNumbers] = throughPerl([nums], { numericStrings: "number" });
    assertGraph(asNumbers, [
      2.5,
      -0.1,
      1e300,
      2 ** 40,
      -(2 ** 40),
      2n ** 63n - 1n,
      2n ** 64n - 1n,
      -(2n ** 63n),
      NaN,
      Infinity,
      -Infinity,
      0,
      5,
    ]);
  });

  test("a seeded random batch (300 values) survives unchanged", { skip }, () => {
    const rnd = prng(20240611);
    const values = Array.from({ length: 300 }, (): PerlValue => {
      const v = randomValue(rnd, 0);
      // the root must be a reference (Perl freezes a referent)
      return v !== null && typeof v === "object" && !(v instanceof Uint8Array) ? v : new PerlRef(v);
    });
    const back = throughPerl(values);
    values.forEach((v, i) => assertGraph(back[i], wire(v), `value ${i}`));
  });
});
