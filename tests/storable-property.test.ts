// Property tests for the Storable codec: thaw(nfreeze(v)) gives v back (up to the documented
// wire normalisation), in JS alone and through one real Perl process.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import fc from "fast-check";
import { perlMissing, repoPath } from "./helpers/perl.ts";
import { nfreeze, StorableEncoder, thaw, type ThawOptions } from "../src/core/storable/mod.ts";
import {
  bless,
  blessedClass,
  PerlRef,
  PerlRegexp,
  type PerlValue,
  PerlVString,
  StorableHook,
} from "../src/core/perl.ts";

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

// STORABLE_PROPERTY_RUNS multiplies every numRuns (soak runs); STORABLE_PROPERTY_SEED replays a
// reported failure (fast-check prints the seed and path).
const RUN_FACTOR = Math.max(1, Number(process.env.STORABLE_PROPERTY_RUNS) || 1);
const SEED = process.env.STORABLE_PROPERTY_SEED ? Number(process.env.STORABLE_PROPERTY_SEED) : undefined;
const PATH = process.env.STORABLE_PROPERTY_PATH || undefined;
function runs(n: number): fc.Parameters<unknown> {
  return SEED === undefined ? { numRuns: n * RUN_FACTOR } : { numRuns: n * RUN_FACTOR, seed: SEED, path: PATH };
}

// ---------------------------------------------------------------- expected values

/**
 * What `v` becomes on the wire with default options: undefined -> null; booleans -> "1" / ""
 * (FreezeOptions.booleans "yesno"); numbers and bigints outside int32 -> decimal strings (network
 * order has no binary numbers; NaN / Inf / -Inf as Perl spells them); ASCII-only Uint8Array ->
 * string (ThawOptions.bytes "auto"); Map -> hash. Object identity (sharing, cycles) is kept.
 */
function wire(v: PerlValue, opts: { numbers?: boolean } = {}): PerlValue {
  const memo = new Map<object, PerlValue>();
  const keepClass = <T extends object>(from: object, to: T): T => {
    const c = blessedClass(from);
    return c === undefined ? to : bless(to, c);
  };
  const numberish = (s: string): PerlValue => {
    // ThawOptions.numericStrings "number": canonical number strings back to numbers
    if (!opts.numbers) return s;
    if (s === "NaN") return NaN;
    if (s === "Inf") return Infinity;
    if (s === "-Inf") return -Infinity;
    if (/^-?(?:0|[1-9][0-9]*)$/.test(s)) return Number.isSafeInteger(Number(s)) ? Number(s) : BigInt(s);
    return String(Number(s)) === s ? Number(s) : s;
  };
  const go = (x: PerlValue): PerlValue => {
    if (x === undefined || x === null) return null;
    if (typeof x === "boolean") return x ? "1" : "";
    if (typeof x === "bigint") return x >= -(2n ** 31n) && x < 2n ** 31n ? Number(x) : numberish(x.toString());
    if (typeof x === "number") {
      if ((x | 0) === x) return x | 0;
      return numberish(Number.isNaN(x) ? "NaN" : x === Infinity ? "Inf" : x === -Infinity ? "-Inf" : String(x));
    }
    if (typeof x === "string") return numberish(x);
    if (x instanceof Uint8Array) return x.every((b) => b < 0x80) ? numberish(String.fromCharCode(...x)) : x.slice();
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

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function show(v: unknown): string {
  if (typeof v === "bigint") return `${v}n`;
  if (typeof v === "string") return JSON.stringify(v.length > 60 ? v.slice(0, 60) + "…" : v);
  if (v instanceof Uint8Array) {
    return `Uint8Array[${Array.from(v.subarray(0, 12)).join(",")}${v.length > 12 ? ",…" : ""}]`;
  }
  if (Array.isArray(v)) return `Array(${v.length})`;
  if (v !== null && typeof v === "object") {
    return `${v.constructor?.name ?? "null-proto"} {${Object.keys(v).slice(0, 6).join(",")}}`;
  }
  return String(v);
}

/** Strict deep equality plus a bijection between objects: sharing and cycles must match exactly. */
function assertGraph(actual: unknown, expected: unknown): void {
  const a2e = new Map<object, object>();
  const e2a = new Map<object, object>();
  const fail = (p: string, what: string, a: unknown, e: unknown): never =>
    assert.fail(`${p}: ${what}: expected ${show(e)}, got ${show(a)}`);
  const classOf = (v: object) => {
    const c = blessedClass(v);
    return v instanceof PerlRegexp && c === "Regexp" ? undefined : c;
  };
  const walk = (a: unknown, e: unknown, p: string): void => {
    if (e === null || typeof e !== "object") {
      if (!Object.is(a, e)) fail(p, "value differs", a, e);
      return;
    }
    if (a === null || typeof a !== "object") return fail(p, "expected an object", a, e);
    if (a2e.has(a) || e2a.has(e)) {
      if (a2e.get(a) !== e || e2a.get(e) !== a) fail(p, "identity differs", a, e);
      return;
    }
    a2e.set(a, e);
    e2a.set(e, a);
    if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(e)) fail(p, "type differs", a, e);
    if (!(e instanceof StorableHook) && classOf(a) !== classOf(e)) {
      fail(p, `class ${classOf(a)} vs ${classOf(e)}`, a, e);
    }
    if (e instanceof Uint8Array) {
      if (!bytesEqual(a as Uint8Array, e)) fail(p, "bytes differ", a, e);
    } else if (e instanceof PerlRef) {
      if ((a as PerlRef).weak !== e.weak) fail(p, "weak flag differs", a, e);
      walk((a as PerlRef).value, e.value, `${p}.value`);
    } else if (e instanceof PerlRegexp) {
      const r = a as PerlRegexp;
      if (r.pattern !== e.pattern || r.flags !== e.flags) {
        fail(p, "regexp differs", `${r.pattern}/${r.flags}`, `${e.pattern}/${e.flags}`);
      }
    } else if (e instanceof PerlVString) {
      if ((a as PerlVString).vstring !== e.vstring) fail(p, "vstring differs", (a as PerlVString).vstring, e.vstring);
      walk((a as PerlVString).value, e.value, `${p}.value`);
    } else if (e instanceof StorableHook) {
      const h = a as StorableHook;
      if (h.className !== e.className || h.kind !== e.kind || !bytesEqual(h.frozen, e.frozen)) {
        fail(p, "hook differs", a, e);
      }
      walk(h.refs, e.refs, `${p}.refs`);
    } else if (Array.isArray(e)) {
      const aa = a as unknown[];
      if (aa.length !== e.length) fail(p, `length ${aa.length} vs ${e.length}`, a, e);
      for (let i = 0; i < e.length; i++) walk(aa[i], e[i], `${p}[${i}]`);
    } else {
      const keys = (o: object) => Reflect.ownKeys(o).filter((k): k is string => typeof k === "string").sort();
      const ka = keys(a);
      const ke = keys(e);
      if (ka.length !== ke.length || ka.some((k, i) => k !== ke[i])) {
        fail(p, "keys differ", JSON.stringify(ka), JSON.stringify(ke));
      }
      for (const k of ke) {
        const d = Object.getOwnPropertyDescriptor(a, k)!;
        if (!("value" in d) || !d.enumerable) fail(`${p}.${k}`, "not an enumerable data property", d, "data");
        walk(d.value, (e as Record<string, unknown>)[k], `${p}[${JSON.stringify(k)}]`);
      }
    }
  };
  walk(actual, expected, "$");
}

// ---------------------------------------------------------------- arbitraries

const anyUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)); // lone surrogates included
const stringArb = fc.oneof(
  fc.string({ maxLength: 24 }),
  fc.string({ unit: "binary", maxLength: 16 }),
  fc.string({ unit: "binary-ascii", maxLength: 16 }), // U+0000..U+00FF
  fc.string({ unit: anyUnit, maxLength: 12 }),
  fc.string({ minLength: 250, maxLength: 300 }), // crosses the 255-byte short/long boundary
  fc.constantFrom("", "0", "42", "-1", "2.5", "007", "__proto__", "é", "😀"),
);
const keyArb = fc.oneof(
  fc.string({ maxLength: 8 }),
  fc.string({ unit: "binary", maxLength: 6 }),
  fc.string({ unit: "binary-ascii", maxLength: 6 }),
  fc.constantFrom("__proto__", "constructor", "prototype", "toString", "hasOwnProperty", "", "é", "日本"),
);
const int32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
const classArb = fc.constantFrom("My::Class", "Other", "Ünïcödé::Klass", "A::" + "Long".repeat(40));

interface ArbOptions {
  /** Only values Perl gives back unchanged (no weak refs, hooks only of classes the Perl peer knows). */
  perl: boolean;
  /** Any double instead of int32 only. */
  doubles: boolean;
}

function valueArb(o: ArbOptions): fc.Arbitrary<PerlValue> {
  const leaf: fc.Arbitrary<PerlValue> = fc.oneof(
    fc.constant(null),
    fc.constant(undefined),
    fc.boolean(),
    o.doubles ? fc.oneof(int32, fc.double()) : int32,
    stringArb,
    fc.uint8Array({ maxLength: 24 }),
    fc.uint8Array({ minLength: 256, maxLength: 300 }),
    fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }),
    fc.constantFrom(new PerlVString("v1.22.333", "\x01\x16\u014d"), new PerlVString("v65.66", "AB")),
  );
  const { value } = fc.letrec<{ value: PerlValue; node: PerlValue }>((tie) => {
    const node = tie("node");
    const containers = fc.oneof(
      fc.array(node, { maxLength: 5 }),
      fc.array(fc.tuple(keyArb, node), { maxLength: 5 }).map((entries) => {
        const h: Record<string, PerlValue> = {};
        for (const [k, v] of entries) {
          Object.defineProperty(h, k, { value: v, enumerable: true, writable: true, configurable: true });
        }
        return h;
      }),
    );
    return {
      node: fc.oneof(
        { depthSize: "small", maxDepth: 5 },
        leaf,
        containers,
        fc.array(fc.tuple(keyArb, node), { maxLength: 4 }).map((e) => new Map(e) as unknown as PerlValue),
        fc.tuple(node, o.perl ? fc.constant(false) : fc.boolean()).map(([v, weak]) => new PerlRef(v, weak)),
        fc.tuple(fc.oneof(containers, node.map((v) => new PerlRef(v))), classArb).map(([v, c]) =>
          bless(v as object, c) as PerlValue
        ),
        fc.tuple(fc.constantFrom("ab+c", "^x$", "a|b", "\\d{2,}"), fc.constantFrom("", "i", "msx", "msix")).map((
          [p, f],
        ) => new PerlRegexp(p, f)),
        o.perl
          ? fc.tuple(
            fc.string({ maxLength: 10 }),
            fc.oneof(
              fc.constant(0).map((): PerlValue[] => []),
              fc.array(node, { maxLength: 3 }).map((a): PerlValue[] => [a]),
            ),
          )
            .map(([id, refs]) => new StorableHook("My::Hooked", "hash", enc(`id=${id}`), refs))
          : fc.tuple(
            classArb,
            fc.constantFrom("scalar", "array", "hash") as fc.Arbitrary<"scalar" | "array" | "hash">,
            fc.uint8Array({ maxLength: 20 }),
            fc.array(containers, { maxLength: 3 }),
          )
            .map(([c, kind, frozen, refs]) => new StorableHook(c, kind, frozen, refs)),
        // shared references and cycles
        containers.map((c) => [c, { again: c }, c] as PerlValue),
        node.map((v) => {
          const r = new PerlRef(v);
          return [r, r, new PerlRef(r)] as PerlValue;
        }),
        containers.map((c) => {
          if (Array.isArray(c)) c.push(c);
          else Object.defineProperty(c, "self", { value: c, enumerable: true, writable: true, configurable: true });
          return c;
        }),
      ),
      // the root of an image is a reference
      value: fc.oneof(fc.array(node, { maxLength: 6 }), node.map((v) => new PerlRef(v))),
    };
  });
  return value;
}

// ---------------------------------------------------------------- JS only

describe("Storable properties (JS)", () => {
  test("thaw(nfreeze(v)) equals v after wire normalisation", () => {
    fc.assert(
      fc.property(valueArb({ perl: false, doubles: true }), (v) => {
        assertGraph(thaw(nfreeze(v)), wire(v));
      }),
      runs(400),
    );
  });

  test("one reused encoder: every image of a sequence decodes (buffer growth between and inside images)", () => {
    // Deterministic regression: a hash whose non-ASCII key comes after the buffer had to grow,
    // encoded by an encoder that already produced an image.
    const enc1 = new StorableEncoder();
    enc1.encode({ a: 1 });
    const big = { a: "x".repeat(100000), "é": 1 };
    assertGraph(thaw(enc1.encode(big)), big);
    // Same with nested hashes that both turn flagged after the growth, through the shared nfreeze
    // encoder, with a back reference (tag counting must survive the rewrite).
    nfreeze({ warm: [1, 2, 3] });
    const shared = { s: 1 };
    const nested = { first: shared, outer: { a: "y".repeat(70000), b: shared, "ü": [shared] }, "日本": shared };
    assertGraph(thaw(nfreeze(nested)), nested);
    fc.assert(
      fc.property(fc.array(valueArb({ perl: false, doubles: false }), { minLength: 2, maxLength: 8 }), (values) => {
        const enc = new StorableEncoder();
        const images = values.map((v) => enc.encode(v));
        values.forEach((v, i) => assertGraph(thaw(images[i]), wire(v)));
      }),
      runs(100),
    );
  });

  test("with numericStrings: 'number' numbers come back as numbers (integers beyond 2^53 as bigint)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(fc.double(), int32, fc.bigInt({ min: -(2n ** 64n), max: 2n ** 64n })), { maxLength: 20 }),
        (nums) => {
          assertGraph(thaw(nfreeze(nums), { numericStrings: "number" }), wire(nums, { numbers: true }));
        },
      ),
      runs(300),
    );
  });

  test("any UTF-16 string (lone surrogates included) round-trips exactly", () => {
    fc.assert(
      fc.property(fc.string({ unit: anyUnit, maxLength: 400 }), (s) => {
        assert.equal((thaw(nfreeze([s])) as string[])[0], s);
      }),
      runs(500),
    );
  });

  test("Uint8Array payloads: bytes 'bytes' gives them back exactly, 'string' as Latin-1", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (b) => {
        const img = nfreeze([b]);
        assert.ok(bytesEqual((thaw(img, { bytes: "bytes" }) as Uint8Array[])[0], b));
        assert.equal((thaw(img, { bytes: "string" }) as string[])[0], String.fromCharCode(...b));
      }),
      runs(300),
    );
  });

  test("canonical: key order does not change the image", () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.tuple(keyArb, int32), { selector: ([k]) => k, maxLength: 12 }), (entries) => {
        const build = (list: Array<[string, number]>) => {
          const h: Record<string, PerlValue> = {};
          for (const [k, v] of list) {
            Object.defineProperty(h, k, { value: v, enumerable: true, writable: true, configurable: true });
          }
          return h;
        };
        const a = nfreeze(build(entries), { canonical: true });
        const b = nfreeze(build([...entries].reverse()), { canonical: true });
        assert.ok(bytesEqual(a, b));
      }),
      runs(300),
    );
  });

  test("images are stable: nfreeze(thaw(nfreeze(v))) === nfreeze(v) for wire-normal values (canonical)", () => {
    fc.assert(
      fc.property(valueArb({ perl: false, doubles: true }), (v) => {
        const once = nfreeze(wire(v), { canonical: true }).slice();
        const twice = nfreeze(thaw(once), { canonical: true });
        assert.ok(bytesEqual(once, twice));
      }),
      runs(300),
    );
  });
});

// ---------------------------------------------------------------- opcodes written (compatibility)

/**
 * Walks a network-order nfreeze image item by item (independently of thaw) and counts every
 * opcode met at an opcode position. Throws on anything it cannot lay out, and when the root item
 * does not end exactly at the end of the image, so a count cannot come from payload bytes.
 */
function scanOpcodes(img: Uint8Array): Map<number, number> {
  const counts = new Map<number, number>();
  let p = 0;
  const need = (n: number) => {
    if (p + n > img.length) throw new Error(`scan: ${n} bytes needed at ${p}, image has ${img.length}`);
  };
  const u8 = () => {
    need(1);
    return img[p++];
  };
  const u32 = () => {
    need(4);
    const v = ((img[p] << 24) | (img[p + 1] << 16) | (img[p + 2] << 8) | img[p + 3]) >>> 0;
    p += 4;
    return v;
  };
  const skip = (n: number) => {
    need(n);
    p += n;
  };
  const item = (depth: number): void => {
    if (depth > 10000) throw new Error("scan: too deep");
    const at = p;
    const op = u8();
    counts.set(op, (counts.get(op) ?? 0) + 1);
    switch (op) {
      case 0: // SX_OBJECT
      case 9: // SX_NETINT
        return skip(4);
      case 1: // SX_LSCALAR
      case 24: // SX_LUTF8STR
        return skip(u32());
      case 10: // SX_SCALAR
      case 23: // SX_UTF8STR
        return skip(u8());
      case 8: // SX_BYTE
        return skip(1);
      case 5: // SX_UNDEF
      case 34: // SX_BOOLEAN_TRUE
      case 35: // SX_BOOLEAN_FALSE
        return;
      case 2: { // SX_ARRAY
        const n = u32();
        for (let i = 0; i < n; i++) item(depth + 1);
        return;
      }
      case 3: { // SX_HASH
        const n = u32();
        for (let i = 0; i < n; i++) {
          item(depth + 1);
          skip(u32());
        }
        return;
      }
      case 25: { // SX_FLAG_HASH
        u8();
        const n = u32();
        for (let i = 0; i < n; i++) {
          item(depth + 1);
          const kf = u8();
          if (kf & 0x08) throw new Error("scan: SHV_K_ISSV key");
          skip(u32());
        }
        return;
      }
      case 4: // SX_REF
      case 27: // SX_WEAKREF
        return item(depth + 1);
      case 17: { // SX_BLESS
        const n = u8();
        skip(n & 0x80 ? u32() : n);
        return item(depth + 1);
      }
      case 18: { // SX_IX_BLESS
        if (u8() & 0x80) u32();
        return item(depth + 1);
      }
      case 29: // SX_VSTRING
        skip(u8());
        return item(depth + 1);
      case 30: // SX_LVSTRING
        skip(u32());
        return item(depth + 1);
      case 19: { // SX_HOOK
        let flags = u8();
        while (flags & 0x40) {
          item(depth + 1); // SHF_NEED_RECURSE: a sub-object stored first
          flags = u8();
        }
        if (flags & 0x20) {
          if (flags & 0x04) u32();
          else u8();
        } else {
          skip(flags & 0x04 ? u32() : u8());
        }
        skip(flags & 0x08 ? u32() : u8());
        if (flags & 0x80) skip(4 * (flags & 0x10 ? u32() : u8()));
        return;
      }
      case 32: { // SX_REGEXP
        const f = u8();
        skip(f & 0x01 ? u32() : u8());
        return skip(u8());
      }
      default:
        throw new Error(`scan: opcode ${op} at ${at} is not one nfreeze writes`);
    }
  };
  if (u8() !== 0x05 || u8() !== 11) throw new Error("scan: not a network-order image with minor 11");
  item(0);
  if (p !== img.length) throw new Error(`scan: root item ends at ${p}, image has ${img.length} bytes`);
  return counts;
}

/** Distinct PerlRegexp objects and boolean slots reachable from `v` (each container once). */
function countKinds(v: PerlValue): { regexps: number; booleans: number } {
  const seen = new Set<object>();
  let regexps = 0;
  let booleans = 0;
  const go = (x: PerlValue): void => {
    if (typeof x === "boolean") booleans++;
    if (x === null || typeof x !== "object" || x instanceof Uint8Array) return;
    if (x instanceof PerlVString) return go(x.value);
    if (seen.has(x)) return;
    seen.add(x);
    if (x instanceof PerlRegexp) regexps++;
    else if (x instanceof PerlRef) go(x.value);
    else if (x instanceof StorableHook) x.refs.forEach(go);
    else if (x instanceof Map) { for (const e of (x as Map<string, PerlValue>).values()) go(e); }
    else if (Array.isArray(x)) x.forEach(go);
    else for (const k of Object.keys(x)) go((x as Record<string, PerlValue>)[k]);
  };
  go(v);
  return { regexps, booleans };
}

const STORABLE2_MAX_OPCODE = 31; // SX_SVUNDEF_ELEM, the last opcode Storable 2.x knows

describe("Storable compatibility: the opcodes nfreeze writes", () => {
  test("the opcode scanner sees SX_REGEXP and SX_BOOLEAN_* where they are (and only there)", () => {
    // A string whose bytes are 32, 34 and 35 must not count: only opcode positions do.
    const plain = scanOpcodes(nfreeze(["\x20\x22\x23", 34, 35, -94]));
    assert.deepEqual([...plain.keys()].sort((a, b) => a - b), [2, 8, 10]);
    assert.equal(scanOpcodes(nfreeze([new PerlRegexp("a+", "i")])).get(32), 1);
    const b = scanOpcodes(nfreeze([true, false, true], { booleans: "storable3.32" }));
    assert.equal(b.get(34), 2);
    assert.equal(b.get(35), 1);
    assert.throws(() => scanOpcodes(new Uint8Array([5, 11, 2, 0, 0, 0, 1, 33])), /opcode 33/);
  });

  test("by default every opcode is one Storable 2.x reads (0..31) unless the value holds a PerlRegexp", () => {
    fc.assert(
      fc.property(valueArb({ perl: false, doubles: true }), (v) => {
        const { regexps, booleans } = countKinds(v);
        const counts = scanOpcodes(nfreeze(v));
        assert.equal(counts.get(32) ?? 0, regexps, "one SX_REGEXP per distinct PerlRegexp");
        assert.equal(counts.get(34) ?? 0, 0, "SX_BOOLEAN_TRUE written without booleans: storable3.32");
        assert.equal(counts.get(35) ?? 0, 0, "SX_BOOLEAN_FALSE written without booleans: storable3.32");
        for (const op of counts.keys()) {
          if (op !== 32) {
            assert.ok(op <= STORABLE2_MAX_OPCODE, `opcode ${op} is newer than Storable 2.x (booleans: ${booleans})`);
          }
        }
      }),
      runs(400),
    );
  });

  test('booleans: "storable3.32" writes one SX_BOOLEAN_* per boolean and nothing else new', () => {
    fc.assert(
      fc.property(valueArb({ perl: false, doubles: true }), (v) => {
        const { regexps, booleans } = countKinds(v);
        const counts = scanOpcodes(nfreeze(v, { booleans: "storable3.32" }));
        assert.equal((counts.get(34) ?? 0) + (counts.get(35) ?? 0), booleans);
        assert.equal(counts.get(32) ?? 0, regexps);
        for (const op of counts.keys()) {
          assert.ok(op <= STORABLE2_MAX_OPCODE || op === 32 || op === 34 || op === 35, `opcode ${op}`);
        }
      }),
      runs(300),
    );
  });
});

// ---------------------------------------------------------------- through real Perl

describe("Storable properties through Perl", () => {
  test(
    "200 generated values survive nfreeze -> Perl thaw/nfreeze -> thaw (one Perl process)",
    { skip: perlMissing() },
    () => {
      const values = fc.sample(valueArb({ perl: true, doubles: true }), { numRuns: 200 * RUN_FACTOR, seed: SEED });
      const parts: Uint8Array[] = [];
      for (let i = 0; i < values.length; i++) {
        const name = enc(String(i));
        const img = nfreeze(values[i]).slice();
        const head = new Uint8Array(8 + name.length);
        const dv = new DataView(head.buffer);
        dv.setUint32(0, name.length);
        head.set(name, 4);
        dv.setUint32(4 + name.length, img.length);
        parts.push(head, img);
      }
      const input = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
      let o = 0;
      for (const p of parts) {
        input.set(p, o);
        o += p.length;
      }
      const r = spawnSync("perl", [repoPath("tests/perl/storable-corpus.pl"), "roundtrip"], {
        input,
        maxBuffer: 1 << 28,
      });
      assert.equal(r.status, 0, r.stderr?.toString());
      const out = new Uint8Array(r.stdout.buffer, r.stdout.byteOffset, r.stdout.byteLength);
      const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
      let seen = 0;
      for (let p = 0; p < out.length;) {
        const nl = dv.getUint32(p);
        const i = Number(new TextDecoder().decode(out.subarray(p + 4, p + 4 + nl)));
        const bl = dv.getUint32(p + 4 + nl);
        const body = out.subarray(p + 8 + nl, p + 8 + nl + bl);
        p += 8 + nl + bl;
        seen++;
        if (body[0] !== 0x4f) assert.fail(`value ${i}: Perl failed: ${new TextDecoder().decode(body.subarray(1))}`);
        const opts: ThawOptions = {};
        try {
          assertGraph(thaw(body.subarray(1), opts), wire(values[i]));
        } catch (e) {
          throw new Error(`value ${i} (${fc.stringify(values[i]).slice(0, 300)}): ${(e as Error).message}`);
        }
      }
      assert.equal(seen, values.length);
    },
  );
});
