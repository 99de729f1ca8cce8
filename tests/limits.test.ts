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

// Hostile frames under default limits: each must stop with a LimitError, quickly, having built
// at most a few hundred MB (before: 8 million refs thawed in 6-23 s using 1.3-2.3 GB).
const TIME_MS = 6000;
const HEAP_BYTES = 1.2 * 1024 ** 3;

function assertStopped(decode: Decode, make: () => Uint8Array): void {
  let bytes: Uint8Array | undefined = make();
  // Garbage left by earlier tests must not count: collect it first where the runtime lets us
  // (Bun's JSC collects lazily, and a whole suite in one process left 1 GB behind).
  (globalThis as { Bun?: { gc(force: boolean): void } }).Bun?.gc(true);
  const heap = process.memoryUsage().heapUsed;
  const started = performance.now();
  let grown = 0;
  assert.throws(
    () => {
      try {
        decode(bytes!);
      } finally {
        grown = process.memoryUsage().heapUsed - heap;
      }
    },
    LimitError,
  );
  const ms = performance.now() - started;
  bytes = undefined;
  assert.ok(ms < TIME_MS, `took ${ms.toFixed(0)} ms`);
  assert.ok(grown < HEAP_BYTES, `heap grew ${(grown / 2 ** 20).toFixed(0)} MiB`);
}

const NET = [5, 11];
/** Storable: an array of `chunks` arrays of 1000 units each, so no header declares much. */
function storableChunks(unit: number[], chunks: number): Uint8Array {
  return repeat([...NET, 2, ...be32(chunks)], [2, ...be32(1000), ...repeat([], unit, 1000)], chunks);
}

describe("limits: hostile Storable images stop under the defaults", () => {
  const shapes: Array<[string, () => Uint8Array]> = [
    [
      "8 million scalar refs in one array (22.9 MiB, issue 9)",
      () => repeat([...NET, 2, ...be32(8_000_000)], [4, 8, 0x81], 8_000_000),
    ],
    ["8 million scalar refs in arrays of 1000", () => storableChunks([4, 8, 0x81], 8000)],
    ["8 million refs to refs in arrays of 1000", () => storableChunks([4, 4, 8, 0x81], 8000)],
    [
      "16,000 chains of 500 nested refs",
      () => repeat([...NET, 2, ...be32(16_000)], [...new Array(500).fill(4), 8, 0x81], 16_000),
    ],
    ["8 million empty arrays", () => storableChunks([2, 0, 0, 0, 0], 8000)],
    ["8 million empty hashes", () => storableChunks([3, 0, 0, 0, 0], 8000)],
    ["8 million one-byte byte strings", () => storableChunks([10, 1, 0xff], 8000)],
    [
      "8 million blessed empty arrays",
      () =>
        repeat([...NET, 2, ...be32(8001), 0x11, 1, 0x41, 2, 0, 0, 0, 0], [
          2,
          ...be32(1000),
          ...repeat([], [0x12, 0, 2, 0, 0, 0, 0], 1000),
        ], 8000),
    ],
    [
      "one array behind 8 million bless prefixes",
      () => repeat([...NET, 0x11, 1, 0x41], [0x12, 0], 8_000_000, [2, 0, 0, 0, 0]),
    ],
    [
      "2 million hooks",
      () =>
        repeat([...NET, 2, ...be32(2001), 0x13, 2, 1, 0x41, 0], [
          2,
          ...be32(1000),
          ...repeat([], [0x13, 0x22, 0, 0], 1000),
        ], 2000),
    ],
    ["3 million hash entries, in hashes of 1000 distinct keys", () => {
      const entries: number[] = [];
      for (let i = 0; i < 1000; i++) entries.push(5, 0, 0, 0, 2, 0x41 + (i >> 5), 0x41 + (i & 31));
      return repeat([...NET, 2, ...be32(3000)], [3, ...be32(1000), ...entries], 3000);
    }],
  ];
  for (const [name, make] of shapes) test(name, () => assertStopped(storable, make));
});

describe("limits: hostile FreezeThaw images stop under the defaults", () => {
  const chunks = (unit: string, n = 8000) =>
    repeat(enc(`FrT;@1|@${n}|`), concat(enc("@1000|"), repeat([], latin1(unit), 1000)), n);
  const shapes: Array<[string, () => Uint8Array]> = [
    ["8 million refs to undef", () => chunks("\\_", 4000)],
    ["8 million empty arrays", () => chunks("@0|")],
    ["8 million empty hashes", () => chunks("%0|")],
    [
      "8 million blessed empty arrays",
      () =>
        concat(
          enc("FrT;@1|@8001|>>0|$1|A@0|"),
          repeat([], concat(enc("@1000|"), repeat([], enc(">)0|@0|"), 1000)), 8000),
        ),
    ],
    [
      "8 million back references",
      () => concat(enc("FrT;!0|@0|@0|@8000|"), repeat([], concat(enc("@1000|"), repeat([], enc("<0|"), 1000)), 8000)),
    ],
    ["8 million byte strings", () => chunks("$1|\xff", 4000)],
  ];
  for (const [name, make] of shapes) test(name, () => assertStopped(freezeThaw, make));
});

describe("limits: hostile Data::Dumper images stop under the defaults", () => {
  const chunks = (unit: string, n = 8000) =>
    concat(enc(`${V} = [`), repeat([], concat(enc("["), repeat([], latin1(unit), 1000), enc("1],")), n), enc("1];"));
  const shapes: Array<[string, () => Uint8Array]> = [
    ["8 million refs", () => chunks("\\1,")],
    ["8 million empty arrays", () => chunks("[],")],
    ["8 million empty hashes", () => chunks("{},")],
    ["8 million blessed empty arrays", () => chunks("bless([],'A'),")],
    ["8 million placeholders", () => chunks("do{my $o},")],
    ["8 million byte strings", () => chunks("'\xff',", 4000)],
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

describe("limits: large text inputs in linear time", () => {
  test("FreezeThaw: a regexp inside 100,000 nested (?^: wrappers (was quadratic: minutes)", () => {
    const n = 100_000;
    const text = "(?^:".repeat(n) + "a" + ")".repeat(n);
    const started = performance.now();
    const v = freezeThawThaw(`FrT;@1|/${text.length}|${text}`) as { pattern: string; flags: string };
    assert.equal(v.pattern, "a");
    assert.ok(performance.now() - started < 500);
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

  test("FreezeThaw and Data::Dumper: a million non-UTF-8 strings and keys in well under seconds", () => {
    const strings = repeat(enc("FrT;@1|@1000000|"), latin1("$1|\xff"), 1_000_000);
    let started = performance.now();
    assert.equal((freezeThawThaw(strings, { maxElements: Infinity }) as PerlValue[]).length, 1_000_000);
    assert.ok(performance.now() - started < 3000, `FreezeThaw strings: ${performance.now() - started} ms`);
    const keys = repeat(enc("FrT;@1|%2000000|"), latin1("$2|\xff\xfe"), 1_000_000, repeat([], enc("_"), 1_000_000));
    started = performance.now();
    assert.deepEqual(Object.keys(freezeThawThaw(keys, { maxElements: Infinity }) as object), ["\xff\xfe"]);
    assert.ok(performance.now() - started < 3000, `FreezeThaw keys: ${performance.now() - started} ms`);
    const dd = concat(enc(`${V} = {`), repeat([], latin1("'\xff\xfe' => 1,"), 1_000_000), enc("'a' => ['\xff']};"));
    started = performance.now();
    dumperThaw(dd, { maxElements: Infinity, byteStrings: "utf8" });
    assert.ok(performance.now() - started < 3000, `Data::Dumper keys: ${performance.now() - started} ms`);
  });

  test("Data::Dumper: a 4 MiB qr// pattern", () => {
    const started = performance.now();
    const v = dumperThaw(`${V} = qr/${"ab\\/".repeat(1 << 20)}/;`) as { pattern: string };
    assert.equal(v.pattern.length, 3 << 20);
    // ~300 ms alone; a quadratic parse takes minutes. 3 s, as its siblings above, so a loaded CI
    // machine (seen: over 1 s) does not fail a linear parse.
    assert.ok(performance.now() - started < 3000, `Data::Dumper qr//: ${performance.now() - started} ms`);
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
