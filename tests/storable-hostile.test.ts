// Hostile input for the Storable reader: whatever the bytes, thaw returns a value or throws a
// typed decode error (CodecError for malformed bytes, LimitError for limits), quickly, without big allocations and without touching
// Object.prototype.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import process from "node:process";
import { perlMissing, repoPath } from "./helpers/perl.ts";
import { nfreeze, thaw, type ThawOptions } from "../src/core/storable/mod.ts";
import { bless, PerlRef, PerlRegexp, type PerlValue, PerlVString, StorableHook } from "../src/core/perl.ts";
import { CodecError, LimitError } from "../src/core/errors.ts";
import { type DecodeError, isDecodeError } from "./helpers/decode-error.ts";

const NET = [0x05, 0x0b];
const NATIVE = [0x04, 0x0b, 0x08, ...new TextEncoder().encode("12345678"), 0x04, 0x08, 0x08, 0x08];
const bytesOf = (...parts: Array<number | string | number[] | Uint8Array>): Uint8Array => {
  const out: number[] = [];
  for (const p of parts) {
    if (typeof p === "number") out.push(p);
    else if (typeof p === "string") out.push(...new TextEncoder().encode(p));
    else out.push(...p);
  }
  return new Uint8Array(out);
};
const be32 = (n: number): number[] => [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];

/** Thaws and demands a decode error (of class `kind`, when given); returns it for further checks. */
function thawError(
  bytes: Uint8Array,
  options?: ThawOptions,
  kind?: typeof CodecError | typeof LimitError,
): DecodeError {
  const expected = kind?.name ?? "a decode error";
  let result: PerlValue;
  try {
    result = thaw(bytes, options);
  } catch (e) {
    if (!isDecodeError(e) || (kind && !(e instanceof kind))) {
      assert.fail(`expected ${expected}, got ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
    }
    assert.equal(typeof e.offset, "number");
    assert.ok(e.offset >= 0 && e.offset <= bytes.length, `offset ${e.offset} outside the input (0..${bytes.length})`);
    return e;
  }
  return assert.fail(`expected ${expected}, thaw returned ${String(result)}`);
}

/** Value or decode error; anything else (TypeError, RangeError, plain Error) fails. */
function valueOrDecodeError(bytes: Uint8Array, options?: ThawOptions): void {
  try {
    thaw(bytes, options);
  } catch (e) {
    if (!isDecodeError(e)) {
      assert.fail(`input ${hex(bytes)}: ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`);
    }
    if (!(e.offset >= 0 && e.offset <= bytes.length)) {
      assert.fail(`input ${hex(bytes)}: offset ${e.offset} out of range`);
    }
  }
}

const hex = (b: Uint8Array): string =>
  Array.from(b.subarray(0, 64), (x) => x.toString(16).padStart(2, "0")).join("") + (b.length > 64 ? "…" : "");

/** Deterministic PRNG (mulberry32) so failures reproduce. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function assertNotPolluted(): void {
  const probe = {} as Record<string, unknown>;
  assert.equal(probe.polluted, undefined, "Object.prototype polluted");
  assert.equal(([] as unknown as Record<string, unknown>).polluted, undefined, "Array.prototype polluted");
  assert.equal(Object.prototype.hasOwnProperty.call(Object.prototype, "polluted"), false);
  assert.equal(Object.getPrototypeOf(probe), Object.prototype);
}

/** Images built in JS: always available. */
function jsImages(): Array<[string, Uint8Array]> {
  const shared = { v: [1, 2] };
  const cyc: Record<string, PerlValue> = { n: "c" };
  cyc.self = cyc;
  const r = new PerlRef("s");
  return [
    ["hash", nfreeze({ a: 1, b: "two", c: [1, 2, 3], d: null, e: true })],
    ["strings", nfreeze(["", "ascii", "é", "日本語😀", "x".repeat(300), new Uint8Array([0, 255, 128])])],
    ["numbers", nfreeze([0, -1, 127, 128, -129, 70000, 2 ** 31, 2.5, 2n ** 63n - 1n, -0.5])],
    ["refs", nfreeze({ r, again: r, rr: new PerlRef(new PerlRef(null)), ra: new PerlRef([1]) })],
    ["blessed", nfreeze([bless({ a: 1 }, "A::B"), bless([2], "A::B"), bless(new PerlRef(3), "C")])],
    ["shared+cycle", nfreeze({ s1: shared, s2: shared, cyc })],
    ["regexp+vstring", nfreeze({ re: new PerlRegexp("ab+c", "i"), v: new PerlVString("v1.2.3", "\x01\x02\x03") })],
    ["hook", nfreeze([new StorableHook("My::Hooked", "hash", new TextEncoder().encode("id=1"), [[1]])])],
    ["proto", nfreeze(JSON.parse('{"__proto__": {"polluted": 1}, "constructor": {"prototype": {"polluted": 1}}}'))],
  ];
}

let perlImagesCache: Array<[string, Uint8Array]> | undefined;
/** Small images frozen by real Perl (both byte orders), from tests/perl/storable-corpus.pl. */
function perlImages(): Array<[string, Uint8Array]> {
  if (perlImagesCache) return perlImagesCache;
  const r = spawnSync("perl", [repoPath("tests/perl/storable-corpus.pl"), "emit"], { maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`storable-corpus.pl emit failed: ${r.stderr?.toString()}`);
  const buf = new Uint8Array(r.stdout.buffer, r.stdout.byteOffset, r.stdout.byteLength);
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: Array<[string, Uint8Array]> = [];
  for (let o = 0; o < buf.length;) {
    const nl = dv.getUint32(o);
    const name = new TextDecoder().decode(buf.subarray(o + 4, o + 4 + nl));
    const bl = dv.getUint32(o + 4 + nl);
    const bytes = buf.slice(o + 8 + nl, o + 8 + nl + bl);
    o += 8 + nl + bl;
    if (bytes.length <= 2048) out.push([name, bytes]);
  }
  return (perlImagesCache = out);
}

const perlSkip = perlMissing("Hash::Util", "Scalar::Util");

// ------------------------------------------------------------------------------------------

describe("Storable hostile input: truncation", () => {
  const truncateAll = (images: Array<[string, Uint8Array]>) => {
    let checked = 0;
    for (const [name, full] of images) {
      for (let n = 0; n < full.length; n++) {
        const part = full.slice(0, n);
        try {
          thaw(part);
        } catch (e) {
          if (!(e instanceof CodecError)) {
            assert.fail(
              `${name} cut at ${n}/${full.length}: ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`,
            );
          }
          if (!(e.offset >= 0 && e.offset <= n)) assert.fail(`${name} cut at ${n}: offset ${e.offset} outside 0..${n}`);
          checked++;
          continue;
        }
        assert.fail(`${name} cut at ${n}/${full.length} bytes thawed without error`);
      }
    }
    return checked;
  };

  test("every proper prefix of JS-frozen images throws a CodecError", () => {
    const images = jsImages();
    assert.ok(truncateAll(images) > 300);
    for (const [name, full] of images) assert.doesNotThrow(() => thaw(full), name); // the whole image is fine
  });

  test("every proper prefix of Perl-frozen images (nfreeze and freeze) throws a CodecError", { skip: perlSkip }, () => {
    const images = perlImages();
    assert.ok(images.length > 80, `only ${images.length} small Perl images`);
    assert.ok(truncateAll(images) > 5000);
  });

  test("truncation errors point at (or before) the end of the input", () => {
    const full = nfreeze({ key: "a string that is long enough", list: [1, 2, 3] });
    for (const n of [2, 3, 7, 10, full.length - 1]) {
      const e = thawError(full.slice(0, n));
      assert.ok(e.offset >= 2 && e.offset <= n, `cut at ${n}: offset ${e.offset}`);
    }
    assert.equal(thawError(new Uint8Array(0)).offset, 0);
  });
});

describe("Storable hostile input: random and mutated bytes", () => {
  test("5,000 seeded random inputs give a value or a decode error", () => {
    const rnd = prng(0x5eed);
    const before = process.cpuUsage();
    // Bias towards plausible bytes: real opcodes, small lengths, and valid headers.
    const byte = (): number => {
      const r = rnd();
      if (r < 0.45) return Math.floor(rnd() * 37); // opcodes 0..36
      if (r < 0.65) return 0;
      if (r < 0.7) return 0xff;
      return Math.floor(rnd() * 256);
    };
    for (let i = 0; i < 5000; i++) {
      const len = Math.floor(rnd() * 48);
      const head = i % 3 === 0 ? [] : i % 3 === 1 ? NET : NATIVE;
      const body = Array.from({ length: len }, byte);
      valueOrDecodeError(bytesOf(head, body));
    }
    // CPU time (waiting for a core does not count): some tens of ms alone.
    const used = process.cpuUsage(before);
    assert.ok((used.user + used.system) / 1000 < 5000, "random inputs took too long");
  });

  test("2,000 mutations of real images give a value or a decode error", () => {
    const rnd = prng(42);
    const images = jsImages().map(([, b]) => b);
    for (let i = 0; i < 2000; i++) {
      const img = images[i % images.length].slice();
      const flips = 1 + Math.floor(rnd() * 3);
      for (let f = 0; f < flips; f++) {
        const at = 2 + Math.floor(rnd() * (img.length - 2));
        img[at] = rnd() < 0.5 ? Math.floor(rnd() * 256) : img[at] ^ (1 << Math.floor(rnd() * 8));
      }
      valueOrDecodeError(img);
    }
  });

  test("mutations of Perl images (both byte orders) give a value or a decode error", { skip: perlSkip }, () => {
    const rnd = prng(7);
    const images = perlImages().map(([, b]) => b);
    for (let i = 0; i < 3000; i++) {
      const img = images[i % images.length].slice();
      const at = 2 + Math.floor(rnd() * Math.max(1, img.length - 2));
      if (at < img.length) img[at] = Math.floor(rnd() * 256);
      valueOrDecodeError(img);
    }
  });
});

describe("Storable hostile input: nesting", () => {
  const deep = (head: number[], unit: number[], n: number, tail: number[] = []): Uint8Array => {
    const out = new Uint8Array(head.length + unit.length * n + tail.length);
    out.set(head, 0);
    for (let i = 0; i < n; i++) out.set(unit, head.length + i * unit.length);
    out.set(tail, head.length + unit.length * n);
    return out;
  };
  const MILLION = 1_000_000;
  // Built lazily: each is ~5 MB.
  const arrays = () => deep(NET, [0x02, ...be32(1)], MILLION, [0x05]);
  const refs = () => deep(NET, [0x04], MILLION, [0x05]);
  const shapes: Array<[string, () => Uint8Array]> = [
    ["arrays", arrays],
    ["hashes", () => deep(NET, [0x03, ...be32(1)], MILLION, [0x05])],
    ["flag hashes", () => deep(NET, [0x19, 0x00, ...be32(1)], MILLION, [0x05])],
    ["refs", refs],
    ["weak refs", () => deep(NET, [0x1b], MILLION, [0x05])],
    ["overloaded refs", () => deep(NET, [0x14], MILLION, [0x05])],
    [
      "blessed arrays",
      () => deep([...NET, 0x11, 0x01, 0x41, 0x02, ...be32(1)], [0x12, 0x00, 0x02, ...be32(1)], MILLION, [0x05]),
    ],
    [
      "refs to blessed arrays",
      () => deep([...NET, 0x11, 0x01, 0x41, 0x02, ...be32(1)], [0x04, 0x12, 0x00, 0x02, ...be32(1)], MILLION),
    ],
    ["v-strings", () => deep(NET, [0x1d, 0x01, 0x76], MILLION, [0x05])],
    ["native arrays", () => deep(NATIVE, [0x02, 1, 0, 0, 0], MILLION, [0x05])],
    ["hooks", () => deep(NET, [0x13, 0x42], MILLION)],
  ];

  for (const [name, make] of shapes) {
    test(`1e6 nested ${name} -> LimitError (never RangeError)`, () => {
      const bytes = make();
      const e = thawError(bytes, undefined, LimitError);
      // Stopped at maxDepth (512 levels), not after reading the million: counted in bytes read.
      assert.ok(e.offset < bytes.length / 100, `depth check must stop early: at byte ${e.offset} of ${bytes.length}`);
    });
  }

  test("1e6 nested arrays with maxDepth raised to 1e7 still give a decode error, not a stack overflow", () => {
    thawError(arrays(), { maxDepth: 10_000_000 });
    thawError(refs(), { maxDepth: 10_000_000 });
  });

  test("default maxDepth 512: 400 levels thaw, 600 levels are refused", () => {
    let v: PerlValue = "x";
    for (let i = 0; i < 400; i++) v = [v];
    assert.doesNotThrow(() => thaw(nfreeze(v)));
    let w: PerlValue = "x";
    for (let i = 0; i < 600; i++) w = [w];
    thawError(deep(NET, [0x02, ...be32(1)], 600, [0x0a, 0x01, 0x78]), undefined, LimitError);
  });
});

describe("Storable hostile input: huge declared sizes fail fast without allocating", () => {
  const cases: Array<[string, Uint8Array]> = [
    ["array of 2^31-1 elements", bytesOf(NET, 0x02, be32(0x7fffffff))],
    ["array of 2^32-1 elements", bytesOf(NET, 0x02, be32(0xffffffff))],
    ["hash of 2^31 keys", bytesOf(NET, 0x03, be32(0x80000000))],
    ["hash of 2^31-1 keys", bytesOf(NET, 0x03, be32(0x7fffffff))],
    ["flag hash of 2^31-1 keys", bytesOf(NET, 0x19, 0x00, be32(0x7fffffff))],
    ["long string of 2^32-1 bytes", bytesOf(NET, 0x01, be32(0xffffffff))],
    ["long utf8 string of 2^31 bytes", bytesOf(NET, 0x18, be32(0x80000000))],
    ["SX_LOBJECT string of 2^32 bytes", bytesOf(NET, 0x21, 0x01, be32(1), be32(0))],
    ["SX_LOBJECT utf8 string of 2^40 bytes", bytesOf(NET, 0x21, 0x18, be32(0x100), be32(0))],
    ["SX_LOBJECT array of 2^40 elements", bytesOf(NET, 0x21, 0x02, be32(0x100), be32(0))],
    ["SX_LOBJECT hash of 2^31 keys", bytesOf(NET, 0x21, 0x03, be32(0), be32(0x80000000))],
    ["SX_LOBJECT array of 2^64-1 elements", bytesOf(NET, 0x21, 0x02, be32(0xffffffff), be32(0xffffffff))],
    ["class name of 2^31-1 bytes", bytesOf(NET, 0x11, 0x80, be32(0x7fffffff))],
    ["class index 2^31-1", bytesOf(NET, 0x12, 0x80, be32(0x7fffffff), 0x03, be32(0))],
    ["regexp of 2^31-1 bytes", bytesOf(NET, 0x20, 0x01, be32(0x7fffffff))],
    ["v-string of 2^31-1 bytes", bytesOf(NET, 0x1e, be32(0x7fffffff))],
    ["hook list of 2^31-1 objects", bytesOf(NET, 0x13, 0x92, 0x01, "C", 0x01, "x", be32(0x7fffffff))],
    ["hook string of 2^31-1 bytes", bytesOf(NET, 0x13, 0x0a, 0x01, "C", be32(0x7fffffff))],
    ["native array of 2^31-1 elements", bytesOf(NATIVE, 0x02, [0xff, 0xff, 0xff, 0x7f])],
    ["native hash of 2^31-1 keys", bytesOf(NATIVE, 0x03, [0xff, 0xff, 0xff, 0x7f])],
  ];
  const generous: ThawOptions = {
    maxElements: Number.MAX_SAFE_INTEGER,
    maxStringLength: Number.MAX_SAFE_INTEGER,
  };

  for (const [name, bytes] of cases) {
    test(`${name} -> a decode error`, () => {
      const heap = process.memoryUsage().heapUsed;
      const before = process.cpuUsage();
      thawError(bytes);
      // Even with limits out of the way, the declared size must be checked against the input.
      thawError(bytes, generous);
      // CPU time (waiting for a core does not count): microseconds here, seconds for a loop over
      // 2^31 declared elements.
      const used = process.cpuUsage(before);
      const cpu = (used.user + used.system) / 1000;
      assert.ok(cpu < 500, `took ${cpu.toFixed(0)} ms of CPU`);
      assert.ok(process.memoryUsage().heapUsed - heap < 64 * 1024 * 1024, "allocated for the declared size");
    });
  }

  test("array of 2^31-1 elements is refused by maxElements (LimitError) under default options", () => {
    thawError(bytesOf(NET, 0x02, be32(0x7fffffff)), undefined, LimitError);
  });
});

describe("Storable hostile input: limits are honoured", () => {
  test("maxElements counts every value: the array itself and its elements, a hash's keys and values", () => {
    const eleven = nfreeze(Array.from({ length: 11 }, (_, i) => i));
    thawError(eleven, { maxElements: 11 }, LimitError);
    assert.deepEqual(thaw(eleven, { maxElements: 12 }), Array.from({ length: 11 }, (_, i) => i));
    const hash = nfreeze(Object.fromEntries(Array.from({ length: 11 }, (_, i) => [`k${i}`, i])));
    thawError(hash, { maxElements: 22 }, LimitError);
    assert.equal(Object.keys(thaw(hash, { maxElements: 23 }) as object).length, 11);
    // counted over the whole image, not per container
    const spread = nfreeze([[1, 2, 3], [4, 5, 6], [7, 8, 9]]);
    thawError(spread, { maxElements: 12 }, LimitError);
    assert.doesNotThrow(() => thaw(spread, { maxElements: 13 }));
  });

  test("maxStringLength (strings, UTF-8 strings, hash keys, class names)", () => {
    const s100 = "s".repeat(100);
    for (const v of [[s100], ["é".repeat(50)], { [s100]: 1 }, bless({}, "C".repeat(100))] as PerlValue[]) {
      const img = nfreeze(v);
      thawError(img, { maxStringLength: 99 }, LimitError);
      assert.doesNotThrow(() => thaw(img, { maxStringLength: 100 }));
    }
  });

  test("maxDepth", () => {
    let v: PerlValue = 1;
    for (let i = 0; i < 10; i++) v = [v];
    const img = nfreeze(v);
    thawError(img, { maxDepth: 5 }, LimitError);
    assert.doesNotThrow(() => thaw(img, { maxDepth: 20 }));
    const refs = nfreeze(new PerlRef(new PerlRef(new PerlRef(new PerlRef(new PerlRef(new PerlRef(1)))))));
    thawError(refs, { maxDepth: 2 }, LimitError);
    assert.doesNotThrow(() => thaw(refs, { maxDepth: 20 }));
  });

  test("maxInputSize", () => {
    const img = nfreeze({ data: "x".repeat(1000) });
    const e = thawError(img, { maxInputSize: img.length - 1 }, LimitError);
    assert.equal(e.offset, 0);
    assert.doesNotThrow(() => thaw(img, { maxInputSize: img.length }));
  });
});

describe("Storable hostile input: malformed structure", () => {
  test("back reference to an unknown tag", () => {
    const e = thawError(bytesOf(NET, 0x02, be32(1), 0x00, be32(5)));
    assert.ok(e.offset >= 7 && e.offset <= 12, `offset ${e.offset}`);
    thawError(bytesOf(NET, 0x04, 0x00, be32(0x7fffffff)));
    thawError(bytesOf(NET, 0x21, 0x00, be32(0), be32(99))); // SX_LOBJECT back reference
  });

  test("hook refers to an unknown object; hook class index never defined", () => {
    thawError(bytesOf(NET, 0x13, 0x82, 0x01, "C", 0x01, "x", 0x01, be32(9)));
    thawError(bytesOf(NET, 0x13, 0x22, 0x05, 0x01, "x"));
  });

  test("bless by an unknown class index", () => {
    thawError(bytesOf(NET, 0x12, 0x03, 0x03, be32(0)));
  });

  test("unknown opcodes fail at the opcode's offset", () => {
    for (const op of [36, 37, 0x50, 0x7f, 0xff]) {
      assert.equal(thawError(bytesOf(NET, op)).offset, 2, `opcode ${op}`);
      assert.equal(thawError(bytesOf(NET, 0x02, be32(2), 0x05, op)).offset, 8, `opcode ${op} inside an array`);
    }
  });

  test("SX_BOOLEAN_TRUE/FALSE (Storable >= 3.32) are understood", () => {
    assert.deepEqual(thaw(bytesOf(NET, 0x02, be32(2), 0x22, 0x23)), [true, false]);
  });

  test("code refs and tied containers are refused with CodecError", () => {
    thawError(bytesOf(NET, 0x1a, 0x0a, 0x05, "sub{}"));
    thawError(bytesOf(NET, 0x0c, 0x03, be32(0)));
    thawError(bytesOf(NET, 0x0b, 0x02, be32(0)));
    thawError(bytesOf(NET, 0x0d, 0x0a, 0x00));
  });

  test("trailing garbage after the root item", () => {
    const img = nfreeze({ a: 1 });
    for (const extra of [[0x00], [0x05], [0x0a, 0x01, 0x41], [0xff, 0xff]]) {
      assert.equal(thawError(bytesOf(img, extra)).offset, img.length);
    }
  });

  test("bad headers", () => {
    thawError(bytesOf(0x07, 0x0b, 0x05)); // major 3
    thawError(bytesOf(0x00)); // major 0
    thawError(bytesOf(0x05)); // no minor
    thawError(bytesOf(0x04, 0x0b, 0x08, "ABCDEFGH", 4, 8, 8, 8, 0x05)); // unknown byte order
    thawError(bytesOf(0x04, 0x0b, 0x40, "12345678")); // byte order string longer than the input
    thawError(bytesOf("pst0"));
  });

  test("SX_OVERLOAD / SX_WEAKREF chains and vstrings without a body", () => {
    thawError(bytesOf(NET, 0x14));
    thawError(bytesOf(NET, 0x1b, 0x1b));
    thawError(bytesOf(NET, 0x1d, 0x03, "v1"));
  });

  test("thaw rejects non-Uint8Array input with a CodecError", () => {
    assert.throws(() => thaw("\x05\x0b\x05" as unknown as Uint8Array), CodecError);
    assert.throws(() => thaw(null as unknown as Uint8Array), CodecError);
  });
});

// Valid images Perl writes elsewhere: other native byte orders and IV sizes, old minors, and the
// SX_LOBJECT forms Perl uses past 2^31 elements or bytes (here with small sizes, which readers accept).
describe("Storable: hand-built images of other platforms and large-object forms", () => {
  const le32 = (n: number): number[] => [n & 255, (n >>> 8) & 255, (n >>> 16) & 255, (n >>> 24) & 255];
  const f64 = (x: number, le: boolean): number[] => {
    const dv = new DataView(new ArrayBuffer(8));
    dv.setFloat64(0, x, le);
    return [...new Uint8Array(dv.buffer)];
  };

  test("big-endian 64-bit native (byte order 87654321): lengths, IVs and NVs big-endian", () => {
    const head = [0x04, 0x0b, 0x08, ..."87654321".split("").map((c) => c.charCodeAt(0)), 4, 8, 8, 8];
    const iv = [0, 0, 0x01, 0, 0, 0, 0, 5]; // 2^40 + 5
    const neg = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfe]; // -2
    assert.deepEqual(thaw(bytesOf(head, 0x02, be32(4), 0x06, iv, 0x06, neg, 0x07, f64(2.5, false), 0x0a, 1, "x")), [
      2 ** 40 + 5,
      -2,
      2.5,
      "x",
    ]);
  });

  test("little-endian 32-bit IV native (byte order 1234)", () => {
    const head = [0x04, 0x0b, 0x04, ..."1234".split("").map((c) => c.charCodeAt(0)), 4, 4, 4, 8];
    assert.deepEqual(
      thaw(bytesOf(head, 0x02, le32(3), 0x06, le32(-7 >>> 0), 0x07, f64(-0.5, true), 0x01, le32(3), "abc")),
      [-7, -0.5, "abc"],
    );
    const beHead = [0x04, 0x0b, 0x04, ..."4321".split("").map((c) => c.charCodeAt(0)), 4, 4, 4, 8];
    assert.deepEqual(thaw(bytesOf(beHead, 0x03, be32(1), 0x06, be32(70000), be32(1), "k")), { k: 70000 });
  });

  test("native images of minor 0 and 1 have no NV size byte", () => {
    const head = (minor: number) => [0x04, minor, 0x08, ..."12345678".split("").map((c) => c.charCodeAt(0)), 4, 8, 8];
    for (const minor of [0, 1]) {
      assert.deepEqual(thaw(bytesOf(head(minor), 0x02, le32(2), 0x07, f64(1.25, true), 0x08, 0x81)), [1.25, 1]);
    }
  });

  test("SX_LOBJECT strings, arrays, hashes, flag hashes and back references", () => {
    const u64 = (n: number) => [...be32(Math.floor(n / 2 ** 32)), ...be32(n >>> 0)];
    assert.deepEqual(thaw(bytesOf(NET, 0x21, 0x01, u64(3), "abc")), new PerlRef("abc"));
    assert.deepEqual(thaw(bytesOf(NET, 0x21, 0x02, u64(2), 0x08, 0x81, 0x21, 0x18, u64(2), [0xc3, 0xa9])), [1, "é"]);
    assert.deepEqual(thaw(bytesOf(NET, 0x21, 0x03, u64(1), 0x0a, 0x01, "x", be32(1), "k")), { k: "x" });
    assert.deepEqual(thaw(bytesOf(NET, 0x21, 0x19, 0x00, u64(1), 0x08, 0x81, 0x01, be32(2), [0xc3, 0xa9])), { "é": 1 });
    // [\@a-ish]: element 1 is a reference to the array itself via a 64-bit object id
    const a = thaw(bytesOf(NET, 0x02, be32(2), 0x08, 0x81, 0x04, 0x21, 0x00, u64(0))) as PerlValue[];
    assert.equal(a[1], a);
    // native little-endian: the 64-bit length is little-endian too
    assert.deepEqual(thaw(bytesOf(NATIVE, 0x21, 0x02, le32(1), le32(0), 0x08, 0x85)), [5]);
  });
});

describe("Storable hostile input: prototype pollution", () => {
  const polluting: Array<[string, Uint8Array]> = [
    // { "__proto__" => { polluted => "yes" } } written by hand
    [
      "SX_HASH __proto__",
      bytesOf(NET, 0x03, be32(1), 0x03, be32(1), 0x0a, 0x03, "yes", be32(8), "polluted", be32(9), "__proto__"),
    ],
    // same through a flagged hash with the UTF-8 key flag
    [
      "SX_FLAG_HASH utf8 __proto__",
      bytesOf(
        NET,
        0x19,
        0x00,
        be32(1),
        0x19,
        0x00,
        be32(1),
        0x0a,
        0x03,
        "yes",
        0x01,
        be32(8),
        "polluted",
        0x01,
        be32(9),
        "__proto__",
      ),
    ],
    // constructor.prototype.polluted
    [
      "constructor.prototype",
      bytesOf(
        NET,
        0x03,
        be32(1),
        0x04,
        0x03,
        be32(1),
        0x04,
        0x03,
        be32(1),
        0x0a,
        0x03,
        "yes",
        be32(8),
        "polluted",
        be32(9),
        "prototype",
        be32(11),
        "constructor",
      ),
    ],
    // __proto__.__proto__.polluted
    [
      "nested __proto__",
      bytesOf(
        NET,
        0x03,
        be32(1),
        0x04,
        0x03,
        be32(1),
        0x04,
        0x03,
        be32(1),
        0x0a,
        0x03,
        "yes",
        be32(8),
        "polluted",
        be32(9),
        "__proto__",
        be32(9),
        "__proto__",
      ),
    ],
    // the same key twice: a __proto__ value that is an array, then a hash
    [
      "__proto__ twice",
      bytesOf(
        NET,
        0x03,
        be32(2),
        0x04,
        0x02,
        be32(0),
        be32(9),
        "__proto__",
        0x04,
        0x03,
        be32(1),
        0x0a,
        0x01,
        "y",
        be32(8),
        "polluted",
        be32(9),
        "__proto__",
      ),
    ],
    // a large hash (SX_LOBJECT) with a __proto__ key
    ["SX_LOBJECT hash __proto__", bytesOf(NET, 0x21, 0x03, be32(0), be32(1), 0x0a, 0x03, "yes", be32(9), "__proto__")],
    // blessed into "__proto__" / "constructor" / "Object"
    [
      "class __proto__",
      bytesOf(
        NET,
        0x02,
        be32(3),
        0x04,
        0x11,
        0x09,
        "__proto__",
        0x03,
        be32(1),
        0x0a,
        0x01,
        "y",
        be32(8),
        "polluted",
        0x04,
        0x11,
        0x0b,
        "constructor",
        0x03,
        be32(0),
        0x04,
        0x11,
        0x06,
        "Object",
        0x02,
        be32(0),
      ),
    ],
    // hook of class __proto__
    ["hook class __proto__", bytesOf(NET, 0x13, 0x02, 0x09, "__proto__", 0x08, "polluted")],
    // key whose bytes are the UTF-8 of "__proto__" via SX_FLAG_HASH with an SV key (SHV_K_ISSV)
    [
      "SX_FLAG_HASH ISSV __proto__",
      bytesOf(NET, 0x19, 0x00, be32(1), 0x0a, 0x03, "yes", 0x08, 0x0a, 0x09, "__proto__"),
    ],
  ];

  for (const [name, bytes] of polluting) {
    test(`${name}: thaws without touching Object.prototype`, () => {
      let v: PerlValue;
      try {
        v = thaw(bytes);
      } catch (e) {
        assert.ok(e instanceof CodecError, `only a CodecError is acceptable, got ${e}`);
        assertNotPolluted();
        return;
      }
      assertNotPolluted();
      if (v !== null && typeof v === "object" && !Array.isArray(v) && !(v instanceof StorableHook)) {
        assert.equal(Object.getPrototypeOf(v), Object.prototype, "result keeps Object.prototype");
      }
    });
  }

  test("__proto__ keys become own data properties holding the thawed value", () => {
    const v = thaw(polluting[0][1]) as Record<string, unknown>;
    const d = Object.getOwnPropertyDescriptor(v, "__proto__");
    assert.ok(d && "value" in d && d.enumerable, "own enumerable data property");
    assert.deepEqual(d.value, { polluted: "yes" });
    assert.equal(Object.getPrototypeOf(v), Object.prototype);
    const flagged = thaw(polluting[1][1]) as Record<string, unknown>;
    assert.deepEqual(Object.getOwnPropertyDescriptor(flagged, "__proto__")?.value, { polluted: "yes" });
    const twice = thaw(polluting[4][1]) as Record<string, unknown>;
    assert.deepEqual(Object.getOwnPropertyDescriptor(twice, "__proto__")?.value, { polluted: "y" });
    assert.equal(Object.getPrototypeOf(twice), Object.prototype);
    const nested = thaw(polluting[3][1]) as Record<string, Record<string, unknown>>;
    const inner = Object.getOwnPropertyDescriptor(nested, "__proto__")?.value as object;
    assert.equal(Object.getPrototypeOf(inner), Object.prototype);
    assert.deepEqual(Object.getOwnPropertyDescriptor(inner, "__proto__")?.value, { polluted: "yes" });
    const issv = thaw(polluting[8][1]) as Record<string, unknown>;
    assert.equal(Object.getOwnPropertyDescriptor(issv, "__proto__")?.value, "yes");
    assert.equal(Object.getPrototypeOf(issv), Object.prototype);
    assertNotPolluted();
  });

  test("thawed hostile objects are usable: toString / hasOwnProperty keys do not break them", () => {
    const img = bytesOf(
      NET,
      0x03,
      be32(2),
      0x0a,
      0x01,
      "x",
      be32(8),
      "toString",
      0x0a,
      0x01,
      "y",
      be32(14),
      "hasOwnProperty",
    );
    const v = thaw(img) as Record<string, unknown>;
    assert.equal(v.toString, "x");
    assert.equal(v.hasOwnProperty, "y");
    assert.equal(Object.getPrototypeOf(v), Object.prototype);
  });
});

describe("Storable where no Buffer exists (a browser bundle)", () => {
  test("strings and bytes at every length boundary round-trip through the TextEncoder/TextDecoder paths", () => {
    const ts = import.meta.url.endsWith(".ts");
    const script = new URL(`./fixtures/no-buffer-codec.${ts ? "ts" : "js"}`, import.meta.url).pathname;
    const g = globalThis as { Deno?: unknown };
    const args = g.Deno !== undefined ? ["run", "-A", "--no-check", script] : [script];
    const r = spawnSync(process.execPath, args, { encoding: "utf8", timeout: 30_000 });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    assert.match(r.stdout, /^ok \d+ undefined$/m);
  });
});
