// The limits the three decoders share: one vocabulary, every created value counted, defaults
// that stop frames built to be expensive while real payloads still decode, and one error for a
// decoder's argument that is not bytes.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import { createStorableFreezer, nfreeze, StorableDecoder, storableFreezer, thaw } from "../src/core/storable/mod.ts";
import { FreezeThawDecoder, freezeThawFreeze, freezeThawFreezer, freezeThawThaw } from "../src/core/freezethaw.ts";
import { DumperDecoder, dumperFreeze, dumperFreezer, dumperThaw } from "../src/core/dumper.ts";
import { builtinFreezers } from "../src/core/freezers.ts";
import { BYTE_STRING_WEIGHT, DEFAULT_LIMITS, resolveLimits } from "../src/core/limits.ts";
import { CodecError, LimitError } from "../src/core/errors.ts";
import { bless, PerlRef, type PerlValue, PerlVString, StorableHook } from "../src/core/perl.ts";
import { collectGarbage, cpuMs, interleavedCost } from "./helpers/cost.ts";

type Decode = (bytes: Uint8Array, options?: { maxElements?: number }) => PerlValue;
const storable: Decode = (b, o) => thaw(b, o);
const freezeThaw: Decode = (b, o) => freezeThawThaw(b, o);
const dumper: Decode = (b, o) => dumperThaw(b, o);

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const latin1 = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const be32 = (n: number): number[] => [(n >>> 24) & 255, (n >>> 16) & 255, (n >>> 8) & 255, n & 255];
const V = "$POE::Component::IKC::Freezer::VAR1";

/** head + unit * n + tail, built by doubling copies (images of tens of MB in milliseconds). */
function repeat(head: ArrayLike<number>, unit: ArrayLike<number>, n: number, tail: ArrayLike<number> = []): Uint8Array {
  const out = new Uint8Array(head.length + unit.length * n + tail.length);
  out.set(head, 0);
  const start = head.length;
  const total = unit.length * n;
  if (n > 0) out.set(unit, start);
  for (let done = unit.length; done < total;) {
    const chunk = Math.min(done, total - done);
    out.copyWithin(start + done, start, start + chunk);
    done += chunk;
  }
  out.set(tail, start + total);
  return out;
}

const concat = (...parts: ArrayLike<number>[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};

/** The image decodes with maxElements n and fails with a LimitError at n - 1. */
function assertCount(decode: Decode, bytes: Uint8Array, n: number, what: string): void {
  assert.doesNotThrow(() => decode(bytes, { maxElements: n }), `${what}: should fit maxElements ${n}`);
  assert.throws(
    () => decode(bytes, { maxElements: n - 1 }),
    LimitError,
    `${what}: should not fit maxElements ${n - 1}`,
  );
}

describe("limits: one vocabulary", () => {
  test("defaults", () => {
    assert.deepEqual({ ...DEFAULT_LIMITS }, {
      maxDepth: 512,
      maxElements: 5_000_000,
      maxStringLength: 64 * 1024 * 1024,
      maxInputSize: 256 * 1024 * 1024,
    });
    assert.equal(BYTE_STRING_WEIGHT, 4);
    assert.deepEqual(new FreezeThawDecoder().options.maxElements, DEFAULT_LIMITS.maxElements);
    assert.deepEqual(new DumperDecoder().options.maxInputSize, DEFAULT_LIMITS.maxInputSize);
  });

  test("the old FreezeThaw / Data::Dumper names are deprecated aliases that still work", () => {
    assert.equal(resolveLimits({ maxItems: 7 }).maxElements, 7);
    assert.equal(resolveLimits({ maxInputBytes: 9 }).maxInputSize, 9);
    assert.equal(resolveLimits({ maxItems: 7, maxElements: 8 }).maxElements, 8, "the new name wins");
    const ft = new FreezeThawDecoder({ maxItems: 50, maxInputBytes: 1000 });
    assert.equal(ft.options.maxElements, 50);
    assert.equal(ft.options.maxItems, 50);
    assert.equal(ft.options.maxInputSize, 1000);
    assert.equal(ft.options.maxInputBytes, 1000);
    const dd = new DumperDecoder({ maxElements: 60 });
    assert.equal(dd.options.maxItems, 60);
  });

  test("the same names limit all three decoders", () => {
    const arr = [1, 2, 3];
    for (
      const [name, decode, bytes] of [
        ["Storable", storable, nfreeze(arr)],
        ["FreezeThaw", freezeThaw, freezeThawFreeze(arr)],
        ["Data::Dumper", dumper, dumperFreeze(arr)],
      ] as const
    ) {
      const d = decode as (b: Uint8Array, o: object) => PerlValue;
      assert.throws(() => d(bytes, { maxInputSize: bytes.length - 1 }), LimitError, name);
      assert.doesNotThrow(() => d(bytes, { maxInputSize: bytes.length }), name);
      assert.throws(() => d(bytes, { maxDepth: 0 }), LimitError, name);
      const long = ["x".repeat(100)];
      const img = name === "Storable"
        ? nfreeze(long)
        : name === "FreezeThaw"
        ? freezeThawFreeze(long)
        : dumperFreeze(long);
      assert.throws(() => d(img, { maxStringLength: 99 }), LimitError, name);
      assert.doesNotThrow(() => d(img, { maxStringLength: 100 }), name);
      const key = { ["k".repeat(100)]: 1 };
      const kimg = name === "Storable"
        ? nfreeze(key)
        : name === "FreezeThaw"
        ? freezeThawFreeze(key)
        : dumperFreeze(key);
      assert.throws(() => d(kimg, { maxStringLength: 99 }), LimitError, `${name} hash key`);
    }
  });

  test("bad limit values are TypeErrors, in every decoder", () => {
    for (const bad of [-1, NaN, "10" as unknown as number]) {
      assert.throws(() => new StorableDecoder({ maxElements: bad }), TypeError);
      assert.throws(() => new FreezeThawDecoder({ maxInputSize: bad }), TypeError);
      assert.throws(() => new DumperDecoder({ maxStringLength: bad }), TypeError);
      assert.throws(() => new DumperDecoder({ maxItems: bad }), TypeError);
    }
    assert.doesNotThrow(() => new StorableDecoder({ maxElements: Infinity }));
  });
});

describe("limits: maxElements counts every value an image creates", () => {
  test("Storable", () => {
    const cases: Array<[string, PerlValue, number]> = [
      ["[]", [], 1],
      ["[[]]", [[]], 2],
      ["[{}]", [{}], 2],
      ["{a => 1}: hash, key, value", { a: 1 }, 3],
      ["\\1: the root ref and its scalar", new PerlRef(1), 2],
      ["[\\1]", [new PerlRef(1)], 3],
      ["[\\\\1]", [new PerlRef(new PerlRef(1))], 4],
      ["[\\\\[]]", [new PerlRef([])], 3],
      ["bless []", bless([], "A"), 2],
      ["[bless \\1]", [bless(new PerlRef(1), "A")], 4],
      ["[byte string]", [new Uint8Array([255])], 1 + BYTE_STRING_WEIGHT],
      ["[v-string]", [new PerlVString("v1.2", "\x01\x02")], 3],
      ["[hook]", [new StorableHook("C", "hash", enc("id"), [])], 2 + BYTE_STRING_WEIGHT + 1],
      ["[hook with a list]", [new StorableHook("C", "hash", enc("id"), [[]])], 2 + BYTE_STRING_WEIGHT + 1 + 1 + 1],
    ];
    for (const [name, value, n] of cases) assertCount(storable, nfreeze(value), n, name);
    const a = [1];
    assertCount(storable, nfreeze([a, a]), 4, "[a, a]: a back reference fills a slot too");
  });

  test("FreezeThaw (the frozen list counts one)", () => {
    const cases: Array<[string, string | Uint8Array, number]> = [
      ["[]", "FrT;@1|@0|", 2],
      ["\\undef", "FrT;@1|\\_", 3],
      ["{a => 1}", "FrT;@1|%2|$1|a$1|1", 4],
      ["bless []", "FrT;@1|>>0|$1|A@0|", 3],
      ["bless bless []", "FrT;@1|>>0|$1|A>)0|@0|", 4],
      ["byte string", latin1("FrT;@1|@1|$1|\xff"), 2 + BYTE_STRING_WEIGHT],
      ["qr//", "FrT;@1|/7|(?^:ab)", 2],
    ];
    for (const [name, text, n] of cases) assertCount(freezeThaw, typeof text === "string" ? enc(text) : text, n, name);
    const a = [1];
    // the shared-section shell, its contents (array + element), the list, its two back references
    assertCount(freezeThaw, freezeThawFreeze([a, a]), 1 + 2 + 1 + 1 + 2, "[a, a]");
  });

  test("Data::Dumper", () => {
    const cases: Array<[string, string | Uint8Array, number]> = [
      ["[]", `${V} = [];`, 1],
      ["[\\1]", `${V} = [\\1];`, 3],
      ["{a => 1}", `${V} = {'a' => 1};`, 3],
      ["bless []", `${V} = bless( [], 'A' );`, 2],
      ["bless bless []", `${V} = bless( bless( [], 'A' ), 'B' );`, 3],
      ["[byte string]", latin1(`${V} = ['\xff'];`), 1 + BYTE_STRING_WEIGHT],
      ["do{my $o}", `${V} = [do{my $o}];`, 2],
    ];
    for (const [name, text, n] of cases) assertCount(dumper, typeof text === "string" ? enc(text) : text, n, name);
  });
});

// Hostile frames: each must stop with a LimitError at maxElements, having read only part of its
// image, with memory and CPU time bounded (before issue 9: 8 million refs thawed in 6-23 s using
// 1.3-2.3 GB). Every value counts against maxElements (above), so what an image may cost grows
// with the limit: measured here at a twentieth of the default, so the suite stays quick.
const LARGE = DEFAULT_LIMITS.maxElements / 20;
/** Units in each hostile image: every unit creates at least one value, so LARGE is reached. */
const UNITS = LARGE * 1.2;
/** What the default limit may let an image build, per value: 1.2 GiB for 5 million. */
const HEAP_PER_VALUE = (1.2 * 1024 ** 3) / DEFAULT_LIMITS.maxElements;
/**
 * CPU time to stop at LARGE values. Some tens to a few hundred ms on a quiet machine, so this
 * holds at half speed with room for collections; work quadratic in the values takes minutes.
 * CPU time, not elapsed time: waiting for a core on a busy machine does not count.
 */
const CPU_BUDGET_MS = 5000;

/** The LimitError `decode` stops `bytes` with under maxElements `limit`. */
function stopAt(decode: Decode, bytes: Uint8Array, limit: number): LimitError {
  let err: unknown;
  try {
    decode(bytes, { maxElements: limit });
  } catch (e) {
    err = e;
  }
  assert.ok(err instanceof LimitError, `maxElements ${limit}: expected a LimitError, got ${String(err)}`);
  return err;
}

/** A shape of hostile image, as a function of how many units (a multiple of 1000) it repeats. */
type Shape = [string, (units: number) => Uint8Array];

function assertStopped(decode: Decode, make: (units: number) => Uint8Array): void {
  const bytes = make(UNITS);
  collectGarbage();
  const heap = process.memoryUsage().heapUsed;
  let stop!: LimitError;
  const cpu = cpuMs(() => (stop = stopAt(decode, bytes, LARGE)));
  const grown = process.memoryUsage().heapUsed - heap;
  assert.ok(cpu < CPU_BUDGET_MS, `stopping at ${LARGE} values took ${cpu.toFixed(0)} ms of CPU`);
  assert.ok(
    grown < HEAP_PER_VALUE * LARGE,
    `heap grew ${(grown / 2 ** 20).toFixed(0)} MiB for ${LARGE} values (at most ${
      HEAP_PER_VALUE.toFixed(0)
    } bytes each)`,
  );
  if (stop.offset >= 0) {
    // It stops where the limit is reached, not after reading the rest.
    const early = stopAt(decode, bytes, LARGE / 4);
    assert.ok(stop.offset < bytes.length, `read all ${bytes.length} bytes before stopping`);
    assert.ok(
      early.offset <= stop.offset,
      `stopped at byte ${early.offset} under ${LARGE / 4}, ${stop.offset} under ${LARGE}`,
    );
  }
}

const NET = [5, 11];
/** Storable: an array of `chunks` arrays of 1000 units each, so no header declares much. */
function storableChunks(unit: number[], chunks: number): Uint8Array {
  return repeat([...NET, 2, ...be32(chunks)], [2, ...be32(1000), ...repeat([], unit, 1000)], chunks);
}
const k = (units: number) => Math.ceil(units / 1000);

describe("limits: hostile Storable images stop at maxElements", () => {
  const shapes: Shape[] = [
    ["scalar refs in one array (issue 9)", (u) => repeat([...NET, 2, ...be32(u)], [4, 8, 0x81], u)],
    ["scalar refs in arrays of 1000", (u) => storableChunks([4, 8, 0x81], k(u))],
    ["refs to refs in arrays of 1000", (u) => storableChunks([4, 4, 8, 0x81], k(u))],
    [
      "chains of 500 nested refs",
      (u) => repeat([...NET, 2, ...be32(u / 500)], [...new Array(500).fill(4), 8, 0x81], u / 500),
    ],
    ["empty arrays", (u) => storableChunks([2, 0, 0, 0, 0], k(u))],
    ["empty hashes", (u) => storableChunks([3, 0, 0, 0, 0], k(u))],
    ["one-byte byte strings", (u) => storableChunks([10, 1, 0xff], k(u))],
    [
      "blessed empty arrays",
      (u) =>
        repeat([...NET, 2, ...be32(k(u) + 1), 0x11, 1, 0x41, 2, 0, 0, 0, 0], [
          2,
          ...be32(1000),
          ...repeat([], [0x12, 0, 2, 0, 0, 0, 0], 1000),
        ], k(u)),
    ],
    ["one array behind bless prefixes", (u) => repeat([...NET, 0x11, 1, 0x41], [0x12, 0], u, [2, 0, 0, 0, 0])],
    [
      "hooks",
      (u) =>
        repeat([...NET, 2, ...be32(k(u) + 1), 0x13, 2, 1, 0x41, 0], [
          2,
          ...be32(1000),
          ...repeat([], [0x13, 0x22, 0, 0], 1000),
        ], k(u)),
    ],
    ["hash entries, in hashes of 1000 distinct keys", (u) => {
      const entries: number[] = [];
      for (let i = 0; i < 1000; i++) entries.push(5, 0, 0, 0, 2, 0x41 + (i >> 5), 0x41 + (i & 31));
      return repeat([...NET, 2, ...be32(k(u))], [3, ...be32(1000), ...entries], k(u));
    }],
  ];
  for (const [name, make] of shapes) test(name, () => assertStopped(storable, make));
});

describe("limits: hostile FreezeThaw images stop at maxElements", () => {
  const chunks = (unit: string, n: number) =>
    repeat(enc(`FrT;@1|@${n}|`), concat(enc("@1000|"), repeat([], latin1(unit), 1000)), n);
  const shapes: Shape[] = [
    ["refs to undef", (u) => chunks("\\_", k(u))],
    ["empty arrays", (u) => chunks("@0|", k(u))],
    ["empty hashes", (u) => chunks("%0|", k(u))],
    [
      "blessed empty arrays",
      (u) =>
        concat(
          enc(`FrT;@1|@${k(u) + 1}|>>0|$1|A@0|`),
          repeat([], concat(enc("@1000|"), repeat([], enc(">)0|@0|"), 1000)), k(u)),
        ),
    ],
    [
      "back references",
      (u) =>
        concat(enc(`FrT;!0|@0|@0|@${k(u)}|`), repeat([], concat(enc("@1000|"), repeat([], enc("<0|"), 1000)), k(u))),
    ],
    ["byte strings", (u) => chunks("$1|\xff", k(u))],
  ];
  for (const [name, make] of shapes) test(name, () => assertStopped(freezeThaw, make));
});

describe("limits: hostile Data::Dumper images stop at maxElements", () => {
  const chunks = (unit: string, n: number) =>
    concat(enc(`${V} = [`), repeat([], concat(enc("["), repeat([], latin1(unit), 1000), enc("1],")), n), enc("1];"));
  const shapes: Shape[] = [
    ["refs", (u) => chunks("\\1,", k(u))],
    ["empty arrays", (u) => chunks("[],", k(u))],
    ["empty hashes", (u) => chunks("{},", k(u))],
    ["blessed empty arrays", (u) => chunks("bless([],'A'),", k(u))],
    ["placeholders", (u) => chunks("do{my $o},", k(u))],
    ["byte strings", (u) => chunks("'\xff',", k(u))],
  ];
  for (const [name, make] of shapes) test(name, () => assertStopped(dumper, make));
});

describe("limits: real payloads decode under the defaults", () => {
  const numbers = Array.from({ length: 1_000_000 }, (_, i) => i * 7919);
  const rows = Array.from(
    { length: 100_000 },
    (_, i) => ({ id: i, name: `name${i}`, score: i * 1.5, tags: ["a", "b"], active: 1 }),
  );
  for (
    const [name, freeze, decode] of [
      ["Storable", nfreeze, storable],
      ["FreezeThaw", freezeThawFreeze, freezeThaw],
      ["Data::Dumper", dumperFreeze, dumper],
    ] as const
  ) {
    test(`${name}: an array of 1,000,000 numbers`, () => {
      const v = decode(freeze(numbers)) as PerlValue[];
      assert.equal(v.length, 1_000_000);
      assert.equal(String(v[999_999]), String(999_999 * 7919));
    });
    test(`${name}: 100,000 rows of hashes`, () => {
      const v = decode(freeze(rows)) as Array<Record<string, PerlValue>>;
      assert.equal(v.length, 100_000);
      assert.equal(v[99_999].name, "name99999");
    });
  }
});

describe("limits: large text inputs at a bounded cost", () => {
  test("FreezeThaw: a regexp inside 100,000 nested (?^: wrappers (was quadratic: minutes)", () => {
    const n = 100_000;
    const text = "(?^:".repeat(n) + "a" + ")".repeat(n);
    let v!: { pattern: string; flags: string };
    const cpu = cpuMs(
      () => (v = freezeThawThaw(`FrT;@1|/${text.length}|${text}`) as { pattern: string; flags: string }),
    );
    assert.equal(v.pattern, "a");
    // ~60 ms of CPU alone; quadratic, minutes
    assert.ok(cpu < 2000, `${cpu.toFixed(0)} ms of CPU`);
    const inner = "(?^:(?^:(?^i:a)))";
    assert.deepEqual({ ...(freezeThawThaw(`FrT;@1|/${inner.length}|${inner}`) as object) }, {
      pattern: "a",
      flags: "i",
    });
    const unbalanced = "(?^:(?^:a)b)";
    assert.deepEqual({ ...(freezeThawThaw(`FrT;@1|/${unbalanced.length}|${unbalanced}`) as object) }, {
      pattern: "(?^:a)b",
      flags: "",
    });
  });

  test("byte strings and keys are told UTF-8 or not without exceptions, exactly as a fatal TextDecoder would", () => {
    const fatal = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
    let seed = 5;
    const rnd = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) & 255;
    const interesting = [
      0x00,
      0x41,
      0x7f,
      0x80,
      0x8f,
      0x90,
      0x9f,
      0xa0,
      0xbf,
      0xc0,
      0xc1,
      0xc2,
      0xdf,
      0xe0,
      0xed,
      0xee,
      0xef,
      0xf0,
      0xf4,
      0xf5,
      0xff,
    ];
    for (let n = 0; n < 20_000; n++) {
      const len = 1 + (n % 5);
      const bytes = Uint8Array.from(
        { length: len },
        () => (rnd() & 1 ? interesting[rnd() % interesting.length] : rnd()),
      );
      let want: PerlValue;
      try {
        want = fatal.decode(bytes);
      } catch {
        want = bytes;
      }
      const ft = concat(enc(`FrT;@1|$${len}|`), bytes);
      assert.deepEqual(freezeThawThaw(ft), want);
      if (!bytes.includes(0x27) && !bytes.includes(0x5c)) {
        assert.deepEqual(dumperThaw(concat(enc(`${V} = '`), bytes, enc("';")), { byteStrings: "utf8" }), want);
      }
    }
  });

  test("FreezeThaw and Data::Dumper: telling 250,000 non-UTF-8 strings and keys costs under 2 µs of CPU each (or 4 plain decodes, on a slow machine)", () => {
    // Each decoded as UTF-8-or-bytes and, in the same process and interleaved, with that test
    // switched off (byteStrings "bytes" / "latin1"): the difference is what telling costs. An
    // exception per string (a fatal TextDecoder in a try) costs 5-12 µs on V8.
    const n = 250_000;
    const strings = repeat(enc(`FrT;@1|@${n}|`), latin1("$1|\xff"), n);
    const keys = repeat(enc(`FrT;@1|%${2 * n}|`), latin1("$2|\xff\xfe"), n, repeat([], enc("_"), n));
    const dd = concat(enc(`${V} = {`), repeat([], latin1("'\xff\xfe' => 1,"), n), enc("'a' => ['\xff']};"));
    const all = { maxElements: Infinity };
    const cases: Array<[string, () => unknown, () => unknown]> = [
      [
        "FreezeThaw strings",
        () => assert.equal((freezeThawThaw(strings, all) as PerlValue[]).length, n),
        () => freezeThawThaw(strings, { ...all, byteStrings: "bytes" }),
      ],
      [
        "FreezeThaw keys",
        () => assert.deepEqual(Object.keys(freezeThawThaw(keys, all) as object), ["\xff\xfe"]),
        () => freezeThawThaw(keys, { ...all, byteStrings: "latin1" }),
      ],
      [
        "Data::Dumper keys",
        () => dumperThaw(dd, { ...all, byteStrings: "utf8" }),
        () => dumperThaw(dd, { ...all, byteStrings: "latin1" }),
      ],
    ];
    for (const [what, telling, plain] of cases) {
      const cost = interleavedCost(telling, plain);
      const each = ((cost.a - cost.b) * 1000) / n;
      // 2 µs on this machine quiet; a machine at half speed doubles both figures, so the bound
      // follows what the plain decode of one string costs in the same rounds.
      const bound = Math.max(2, (4 * cost.b * 1000) / n);
      assert.ok(
        each < bound,
        `${what}: ${each.toFixed(2)} µs of CPU each, bound ${bound.toFixed(2)} (${cost.a.toFixed(0)} ms against ${
          cost.b.toFixed(0)
        } ms)`,
      );
    }
  });

  test("Data::Dumper: a 4 MiB qr// pattern", () => {
    let v!: { pattern: string };
    // ~300 ms alone; a quadratic parse takes minutes. CPU time: waiting for a core does not count.
    const cpu = cpuMs(() => (v = dumperThaw(`${V} = qr/${"ab\\/".repeat(1 << 20)}/;`) as { pattern: string }));
    assert.equal(v.pattern.length, 3 << 20);
    assert.ok(cpu < 3000, `Data::Dumper qr//: ${cpu.toFixed(0)} ms of CPU`);
  });
});

describe("decoders answer a non-Uint8Array argument with a CodecError", () => {
  const notBytes: Array<[string, unknown]> = [
    ["null", null],
    ["undefined", undefined],
    ["a string", "not a frame"],
    ["a number", 42],
    ["an ArrayBuffer", new ArrayBuffer(8)],
    ["a plain object", { length: 3, 0: 5, 1: 11, 2: 5 }],
    ["an array", [5, 11, 5]],
    ["a DataView", new DataView(new ArrayBuffer(4))],
    ["an Int8Array", new Int8Array([5, 11, 5])],
  ];
  const decoders: Array<[string, (x: unknown) => unknown, boolean]> = [
    ["thaw", (x) => thaw(x as Uint8Array), false],
    ["StorableDecoder.decode", (x) => new StorableDecoder().decode(x as Uint8Array), false],
    ["storableFreezer.thaw", (x) => storableFreezer.thaw(x as Uint8Array), false],
    ["createStorableFreezer().thaw", (x) => createStorableFreezer({ maxDepth: 10 }).thaw(x as Uint8Array), false],
    ["freezeThawThaw", (x) => freezeThawThaw(x as Uint8Array), true],
    ["FreezeThawDecoder.decode", (x) => new FreezeThawDecoder().decode(x as Uint8Array), true],
    ["FreezeThawDecoder.decodeAll", (x) => new FreezeThawDecoder().decodeAll(x as Uint8Array), true],
    ["freezeThawFreezer.thaw", (x) => freezeThawFreezer.thaw(x as Uint8Array), false],
    ["dumperThaw", (x) => dumperThaw(x as Uint8Array), true],
    ["DumperDecoder.decode", (x) => new DumperDecoder().decode(x as Uint8Array), true],
    ["dumperFreezer.thaw", (x) => dumperFreezer.thaw(x as Uint8Array), false],
    ...Object.entries(builtinFreezers).map(([n, f]): [string, (x: unknown) => unknown, boolean] => [
      `builtinFreezers["${n}"].thaw`,
      (x) => f.thaw(x as Uint8Array),
      false,
    ]),
  ];
  for (const [name, decode, takesStrings] of decoders) {
    test(name, () => {
      for (const [what, arg] of notBytes) {
        assert.throws(() => decode(arg), (e: unknown) => {
          assert.ok(
            e instanceof CodecError,
            `${what}: got ${(e as Error)?.constructor?.name}: ${(e as Error)?.message}`,
          );
          // A string is text these functions accept: it then fails as text, not as a type.
          if (!(takesStrings && typeof arg === "string")) {
            assert.match(e.message, /expects a Uint8Array/, what);
            assert.match(
              e.message,
              new RegExp(`got ${what === "a plain object" ? "an Object" : what === "an array" ? "an Array" : what}`),
            );
          }
          return true;
        });
      }
    });
  }

  test("a Node Buffer and a Uint8Array subarray are bytes", () => {
    const img = nfreeze([1, 2]);
    const padded = new Uint8Array(img.length + 4);
    padded.set(img, 2);
    assert.deepEqual(thaw(padded.subarray(2, 2 + img.length)), [1, 2]);
    const B = (globalThis as { Buffer?: { from(a: Uint8Array): Uint8Array } }).Buffer;
    if (B) assert.deepEqual(thaw(B.from(img)), [1, 2]);
  });
});
