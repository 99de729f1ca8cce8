import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { encodeFrame, FrameReader, LineReader } from "../src/core/frame.ts";
import { FrameBatch } from "../src/core/frame-batch.ts";
import { LimitError, ProtocolError } from "../src/core/errors.ts";
import { concat } from "./helpers/bytes.ts";
import { ConcatReader } from "./helpers/concat-reader.ts";
import { perlMissing, runPerl } from "./helpers/perl.ts";

const enc = new TextEncoder();
const bytes = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

function pattern(n: number, seed = 0): Uint8Array {
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i++) out[i] = (i * 31 + seed) & 0xff;
  return out;
}

/** Deterministic xorshift PRNG so failures reproduce. */
function rng(seed: number): () => number {
  let x = seed | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x100000000;
  };
}

function readAll(reader: FrameReader, chunks: Uint8Array[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  // Copies: a zero-copy view stays valid anyway here, copying makes the assertion independent of that.
  for (const c of chunks) for (const f of reader.push(c)) out.push(f.slice());
  return out;
}

const payloads = [
  pattern(0),
  bytes("\0"),
  bytes("12\0"),
  pattern(1, 7),
  pattern(9, 1),
  pattern(10, 2),
  pattern(300, 3),
  pattern(1000, 4),
  pattern(0),
];
const stream = concat(payloads.map(encodeFrame));

describe("encodeFrame", () => {
  test("writes <decimal length> NUL payload in one buffer", () => {
    assert.deepEqual(encodeFrame(bytes("abc")), bytes("3\0abc"));
    assert.deepEqual(encodeFrame(new Uint8Array(0)), bytes("0\0"));
    const big = pattern(123456);
    const framed = encodeFrame(big);
    assert.deepEqual(framed.subarray(0, 7), bytes("123456\0"));
    assert.deepEqual(framed.subarray(7), big);
    assert.equal(framed.byteLength, 7 + 123456);
  });
});

describe("FrameReader", () => {
  test("whole stream in one push", () => {
    assert.deepEqual(readAll(new FrameReader(), [stream]), payloads);
  });

  test("split at every offset", () => {
    for (let k = 0; k <= stream.byteLength; k++) {
      const got = readAll(new FrameReader(), [stream.subarray(0, k), stream.subarray(k)]);
      assert.deepEqual(got, payloads, `split at ${k}`);
    }
  });

  test("split at every pair of offsets (three chunks)", () => {
    const small = concat([bytes("5\0hello"), bytes("0\0"), bytes("12\0abcdefghijkl"), bytes("1\0\0")]);
    const want = [bytes("hello"), bytes(""), bytes("abcdefghijkl"), bytes("\0")];
    for (let a = 0; a <= small.byteLength; a++) {
      for (let b = a; b <= small.byteLength; b++) {
        const got = readAll(new FrameReader(), [small.subarray(0, a), small.subarray(a, b), small.subarray(b)]);
        assert.deepEqual(got, want, `split at ${a},${b}`);
      }
    }
  });

  test("one byte at a time", () => {
    const reader = new FrameReader();
    const chunks = Array.from(stream, (b) => Uint8Array.of(b));
    assert.deepEqual(readAll(reader, chunks), payloads);
    assert.equal(reader.buffered, 0);
    assert.equal(reader.offset, stream.byteLength);
  });

  test("random chunking of many frames", () => {
    const rand = rng(42);
    const many: Uint8Array[] = [];
    for (let i = 0; i < 300; i++) many.push(pattern(Math.floor(rand() ** 3 * 5000), i));
    const wire = concat(many.map(encodeFrame));
    for (let round = 0; round < 20; round++) {
      const chunks: Uint8Array[] = [];
      for (let off = 0; off < wire.byteLength;) {
        const n = 1 + Math.floor(rand() ** 2 * 9000);
        chunks.push(wire.subarray(off, off + n));
        off += n;
      }
      assert.deepEqual(readAll(new FrameReader(), chunks), many);
    }
  });

  test("merged frames are zero-copy views unless copy is set", () => {
    const chunk = concat([encodeFrame(bytes("abc")), encodeFrame(bytes("defg"))]);
    const views = new FrameReader().push(chunk);
    assert.deepEqual(views, [bytes("abc"), bytes("defg")]);
    assert.equal(views[0].buffer, chunk.buffer);
    assert.equal(views[1].byteOffset, 7);
    const copies = new FrameReader({ copy: true }).push(chunk);
    assert.deepEqual(copies, [bytes("abc"), bytes("defg")]);
    assert.notEqual(copies[0].buffer, chunk.buffer);
    chunk.fill(0);
    assert.deepEqual(copies[1], bytes("defg"));
  });

  test("a split frame is assembled into one buffer of exactly its length", () => {
    const body = pattern(100000, 9);
    const wire = encodeFrame(body);
    const reader = new FrameReader();
    const out: Uint8Array[] = [];
    for (let off = 0; off < wire.byteLength; off += 4096) {
      out.push(...reader.push(wire.subarray(off, off + 4096)));
      if (off + 4096 < wire.byteLength) assert.equal(reader.buffered, Math.min(wire.byteLength, off + 4096));
    }
    assert.equal(out.length, 1);
    assert.equal(out[0].byteOffset, 0);
    assert.equal(out[0].buffer.byteLength, 100000);
    assert.deepEqual(out[0], body);
  });

  test("empty frames and leading zeros", () => {
    const reader = new FrameReader();
    assert.deepEqual(reader.push(bytes("0\0")), [new Uint8Array(0)]);
    assert.deepEqual(reader.push(bytes("0\x000\0")), [new Uint8Array(0), new Uint8Array(0)]);
    assert.deepEqual(reader.push(bytes("003\0abc00")), [bytes("abc")]);
    assert.deepEqual(reader.push(bytes("0\0")), [new Uint8Array(0)]);
  });

  test("node Buffer input yields plain Uint8Array frames", () => {
    const [frame] = new FrameReader().push(Buffer.from("3\0xyz", "latin1"));
    assert.equal(frame.constructor, Uint8Array);
    assert.deepEqual(frame, bytes("xyz"));
  });

  test("maxFrameSize: equal is fine, larger is a LimitError from the header alone", () => {
    assert.deepEqual(new FrameReader({ maxFrameSize: 10 }).push(bytes("10\x000123456789")), [bytes("0123456789")]);
    const r = new FrameReader({ maxFrameSize: 10 });
    assert.deepEqual(r.push(bytes("3\0abc")), [bytes("abc")]);
    assert.throws(() => r.push(bytes("11")), (e: unknown) => e instanceof LimitError && e.offset === 5);
    // the default limit (64 MiB) trips on the digits, before any body byte or even the NUL
    const d = new FrameReader();
    assert.throws(() => d.push(bytes("99999999999")), LimitError);
    assert.equal(d.buffered <= 20, true);
    assert.deepEqual(new FrameReader().push(bytes(`${64 * 1024 * 1024}`)), []);
  });

  test("bad headers are ProtocolErrors and poison the reader", () => {
    const bad = ["abc", "\0", "12a\0", " 5\0", "-1\0", "5\r\n", "0".repeat(21), "3\0abcX"];
    for (const s of bad) {
      const r = new FrameReader();
      assert.throws(() => r.push(bytes(s)), ProtocolError, JSON.stringify(s));
    }
    const r = new FrameReader();
    assert.deepEqual(r.push(bytes("2\0ok")), [bytes("ok")]);
    let first: unknown;
    try {
      r.push(bytes("x"));
    } catch (e) {
      first = e;
    }
    assert.ok(first instanceof ProtocolError);
    assert.match((first as Error).message, /offset 4/);
    assert.throws(() => r.push(bytes("1\0a")), (e: unknown) => e === first);
    r.reset();
    assert.deepEqual(r.push(bytes("1\0a")), [bytes("a")]);
    // 20 digits (leading zeros) are still a valid header
    assert.deepEqual(new FrameReader().push(bytes(`${"0".repeat(19)}1\0z`)), [bytes("z")]);
  });

  test("a bad header in the middle of a chunk still returns nothing and throws", () => {
    const r = new FrameReader();
    assert.throws(() => r.push(bytes("1\0a1\0b?")), ProtocolError);
  });
});

/**
 * Runs `fn` and returns how many bytes it copied through the typed-array copy primitives (`set`,
 * `slice`, `copyWithin`), by wrapping them on the prototypes for the duration. No timing: a
 * reader that re-concatenates its pending bytes on every push copies O(n^2 / block) bytes, and the
 * counts below fail however fast or slow the machine is.
 */
function countCopies(fn: () => void): number {
  let copied = 0;
  const protos = [Object.getPrototypeOf(Uint8Array.prototype), Uint8Array.prototype];
  const restore: Array<() => void> = [];
  for (const proto of protos) {
    for (const name of ["set", "slice", "copyWithin"] as const) {
      const desc = Object.getOwnPropertyDescriptor(proto, name);
      if (!desc || typeof desc.value !== "function") continue;
      const orig = desc.value as (...args: unknown[]) => unknown;
      const counted = {
        set(this: Uint8Array, src: ArrayLike<number>, offset?: number) {
          copied += src.length;
          return orig.call(this, src, offset);
        },
        slice(this: Uint8Array, start?: number, end?: number) {
          const out = orig.call(this, start, end) as Uint8Array;
          copied += out.length;
          return out;
        },
        copyWithin(this: Uint8Array, target: number, start: number, end?: number) {
          const len = this.length;
          const norm = (x: number) => (x < 0 ? Math.max(len + x, 0) : Math.min(x, len));
          copied += Math.max(0, Math.min(norm(end ?? len) - norm(start), len - norm(target)));
          return orig.call(this, target, start, end);
        },
      }[name];
      Object.defineProperty(proto, name, { ...desc, value: counted });
      restore.push(() => Object.defineProperty(proto, name, desc));
    }
  }
  try {
    fn();
  } finally {
    for (const r of restore) r();
  }
  return copied;
}

describe("FrameReader cost is linear in its input (bytes copied, not time)", () => {
  /** Feeds one frame of `n` body bytes in `block`-byte chunks; returns the bytes copied doing so. */
  const pendingFrameCopies = (n: number, block: number) => {
    const wire = encodeFrame(pattern(n, 5));
    const chunks: Uint8Array[] = [];
    for (let off = 0; off < wire.length; off += block) chunks.push(wire.subarray(off, off + block));
    const reader = new FrameReader();
    let frames: Uint8Array[] = [];
    const copied = countCopies(() => {
      for (const c of chunks) frames = frames.concat(reader.push(c));
    });
    assert.equal(frames.length, 1);
    assert.deepEqual(frames[0], pattern(n, 5));
    return copied;
  };

  test("the meter sees a re-concatenating reader (so the checks below can fail)", () => {
    const n = 64 * 1024;
    const chunks: Uint8Array[] = [];
    for (let off = 0; off < n; off += 1024) chunks.push(pattern(1024, off));
    const copied = countCopies(() => {
      const r = new ConcatReader();
      for (const c of chunks) r.push(c);
    });
    // 64 pushes of 1 KiB: sum of 1..64 KiB, about 32x the input.
    assert.ok(copied > 20 * n, `meter saw only ${copied} bytes copied for ${n} bytes of input`);
  });

  test("a pending frame fed in blocks copies each body byte at most twice (its buffer grows as bytes arrive)", () => {
    for (const block of [64, 1024, 65536]) {
      for (const n of [256 * 1024, 1024 * 1024]) {
        const copied = pendingFrameCopies(n, block);
        assert.ok(copied <= 2 * n, `block ${block}, frame ${n}: ${copied} bytes copied (at most ${2 * n} allowed)`);
      }
    }
  });

  test("bytes copied grow linearly: within twice the input at every size", () => {
    const a = pendingFrameCopies(128 * 1024, 100);
    assert.ok(a > 0, "the body of a split frame is copied through set()");
    for (const n of [128 * 1024, 512 * 1024, 2 * 1024 * 1024, 3 * 1024 * 1024 + 7]) {
      const copied = pendingFrameCopies(n, 100);
      assert.ok(copied >= n && copied <= 2 * n, `copied ${copied} bytes for ${n}`);
    }
  });

  test("many frames in random chunks: copies never exceed the input; merged frames copy nothing", () => {
    const rand = rng(2024);
    const many: Uint8Array[] = [];
    for (let i = 0; i < 400; i++) many.push(pattern(Math.floor(rand() ** 3 * 20000), i));
    const wire = concat(many.map(encodeFrame));
    const chunks: Uint8Array[] = [];
    for (let off = 0; off < wire.length;) {
      const n = 1 + Math.floor(rand() ** 2 * 30000);
      chunks.push(wire.subarray(off, off + n));
      off += n;
    }
    const reader = new FrameReader();
    const got: Uint8Array[] = [];
    const copied = countCopies(() => {
      for (const c of chunks) for (const f of reader.push(c)) got.push(f);
    });
    assert.equal(got.length, many.length);
    assert.ok(copied <= wire.length, `${copied} bytes copied for ${wire.length} bytes of input`);
    assert.deepEqual(got, many);
    // The whole stream in one chunk: every frame is a view, nothing is copied.
    assert.equal(countCopies(() => void new FrameReader().push(wire)), 0);
  });

  test("LineReader: buffering many short pushes copies O(input) bytes", () => {
    const r = new LineReader({ maxLineLength: 1 << 20 });
    const piece = bytes("abcdefghij");
    const pushes = 20000;
    const copied = countCopies(() => {
      for (let i = 0; i < pushes; i++) r.push(piece);
    });
    // Appends plus doubling growth: under 3 copies per byte.
    assert.ok(copied <= 3 * pushes * piece.length, `${copied} bytes copied for ${pushes * piece.length} bytes`);
    r.push(bytes("\n"));
    assert.equal(r.nextLine()!.length, pushes * piece.length);
  });
});

describe("FrameReader memory follows bytes (issue 17, item 12)", () => {
  test("announcing 64 MiB reserves 64 KiB, not 64 MiB; ten such peers reserve 640 KiB", () => {
    const readers = Array.from({ length: 10 }, () => new FrameReader());
    let reserved = 0;
    for (const r of readers) {
      assert.deepEqual(r.push(bytes(`${64 * 1024 * 1024}\0`)), []);
      assert.deepEqual(r.push(pattern(1000)), []);
      reserved += r.reserved;
    }
    assert.ok(reserved <= 10 * 64 * 1024, `${reserved} bytes reserved`);
  });

  test("the buffer grows with what arrives (at most 4x it, or 64 KiB) and ends exactly the frame", () => {
    const n = 5 * 1024 * 1024 + 3;
    const body = pattern(n, 9);
    const wire = encodeFrame(body);
    const r = new FrameReader();
    let frames: Uint8Array[] = [];
    let arrived = 0;
    for (let off = 0; off < wire.length; off += 100_000) {
      const chunk = wire.subarray(off, off + 100_000);
      frames = r.push(chunk);
      arrived += chunk.length;
      if (frames.length === 0) {
        assert.ok(r.reserved <= Math.max(64 * 1024, 4 * arrived), `${r.reserved} for ${arrived}`);
      }
    }
    assert.equal(frames.length, 1);
    assert.equal(frames[0]!.length, n);
    assert.equal(frames[0]!.buffer.byteLength, n);
    assert.deepEqual(frames[0], body);
    assert.equal(r.reserved, 0);
  });
});

describe("LineReader", () => {
  const lines = (r: LineReader) => {
    const out: string[] = [];
    for (let l; (l = r.nextLine()) !== undefined;) out.push(l);
    return out;
  };

  test("CR LF, LF, CR and LF CR each end one line", () => {
    const r = new LineReader();
    r.push(bytes("a\r\nb\nc\rd\n\re\r\n\r\nf\n\ng\r\rh\n\r\n"));
    assert.deepEqual(lines(r), ["a", "b", "c", "d", "e", "", "f", "", "g", "", "h", ""]);
  });

  test("a CR at the end is taken at once; an LF right after it belongs to it", () => {
    const r = new LineReader();
    r.push(bytes("IAM x\r"));
    assert.equal(r.nextLine(), "IAM x");
    r.push(bytes("\nDONE\r"));
    assert.equal(r.nextLine(), "DONE");
    assert.equal(r.nextLine(), undefined);
    r.push(bytes("3\0abc"));
    assert.equal(r.nextLine(), undefined);
    assert.deepEqual(r.takeRest(), bytes("3\0abc"));
  });

  test("an LF at the end is taken at once; a CR right after it belongs to it", () => {
    const r = new LineReader();
    r.push(bytes("HELLO\n"));
    assert.equal(r.nextLine(), "HELLO");
    r.push(bytes("\rOK\n"));
    assert.equal(r.nextLine(), "OK");
    r.push(bytes("X\n"));
    assert.equal(r.nextLine(), "X");
    r.push(bytes("Y\r\n"));
    assert.equal(r.nextLine(), "Y");
    assert.equal(r.nextLine(), undefined);
  });

  test("split at every offset gives the same lines and rest", () => {
    const text = concat([bytes("HELLO\r\nIAM Server\r\nIAM alias\r\nDONE\r\nOK\r\nUP\r\n"), encodeFrame(bytes("hi"))]);
    for (let k = 0; k <= text.byteLength; k++) {
      const r = new LineReader();
      const got: string[] = [];
      r.push(text.subarray(0, k));
      got.push(...lines(r));
      r.push(text.subarray(k));
      while (got.length < 6) {
        const l = r.nextLine();
        assert.notEqual(l, undefined, `split at ${k}`);
        got.push(l!);
      }
      assert.deepEqual(got, ["HELLO", "IAM Server", "IAM alias", "DONE", "OK", "UP"], `split at ${k}`);
      assert.deepEqual(new FrameReader().push(r.takeRest()), [bytes("hi")], `split at ${k}`);
    }
  });

  test("takeRest hands over bytes after the last line, then the reader is empty", () => {
    const r = new LineReader();
    r.push(concat([bytes("SETUP KERNEL=a;FREEZER=Storable;PID=1\r\n"), encodeFrame(pattern(5000))]));
    assert.equal(r.nextLine(), "SETUP KERNEL=a;FREEZER=Storable;PID=1");
    const rest = r.takeRest();
    assert.equal(rest.byteLength, 5005);
    assert.deepEqual(new FrameReader().push(rest), [pattern(5000)]);
    assert.equal(r.buffered, 0);
    assert.deepEqual(r.takeRest(), new Uint8Array(0));
  });

  test("lines decode as Latin-1", () => {
    const r = new LineReader();
    r.push(Uint8Array.of(0x41, 0xe9, 0x80, 0xff, 0x0d, 0x0a));
    assert.equal(r.nextLine(), "A\u00e9\u0080\u00ff");
  });

  test("many pushes without a line end do not rescan or lose data", () => {
    const r = new LineReader({ maxLineLength: 100000 });
    for (let i = 0; i < 5000; i++) {
      r.push(bytes("ab"));
      assert.equal(r.nextLine(), undefined);
    }
    r.push(bytes("\r\nnext\n"));
    assert.equal(r.nextLine(), "ab".repeat(5000));
    assert.equal(r.nextLine(), "next");
  });

  test("maxLineLength", () => {
    const ok = new LineReader({ maxLineLength: 8 });
    ok.push(bytes("12345678\r\n"));
    assert.equal(ok.nextLine(), "12345678");
    const long = new LineReader({ maxLineLength: 8 });
    long.push(bytes("123456789\r\n"));
    assert.throws(() => long.nextLine(), ProtocolError);
    assert.throws(() => long.nextLine(), ProtocolError);
    assert.throws(() => long.push(bytes("x")), ProtocolError);
    const open = new LineReader({ maxLineLength: 8 });
    open.push(bytes("12345678"));
    assert.equal(open.nextLine(), undefined);
    open.push(bytes("9"));
    assert.throws(() => open.nextLine(), ProtocolError);
    // default is 4096
    const d = new LineReader();
    d.push(enc.encode("x".repeat(4097)));
    assert.throws(() => d.nextLine(), ProtocolError);
  });

  test("a long frame after the last line is not mistaken for a long line", () => {
    const r = new LineReader({ maxLineLength: 16 });
    r.push(concat([bytes("UP\r\n"), encodeFrame(pattern(100000))]));
    assert.equal(r.nextLine(), "UP");
    assert.deepEqual(new FrameReader().push(r.takeRest()), [pattern(100000)]);
  });
});

describe("against Perl's POE::Filter::Reference", () => {
  test("Storable frames from put() parse; our frames thaw in get()", { skip: perlMissing("POE") }, () => {
    const data = `
      my @refs = ({ event => 'poe://K/s/e', params => [1, 2.5, "x\\0y", undef] },
                  [ ('a'x1000) x 100 ], \\'scalar', { big => 'b' x 300000, n => -7 }, {});`;
    const wire = runPerl(`
      use strict; use POE::Filter::Reference; binmode STDOUT;
      ${data}
      my $f = POE::Filter::Reference->new(Serializer => 'Storable');
      print join '', @{ $f->put(\\@refs) };`);
    const rand = rng(7);
    const reader = new FrameReader();
    const frames: Uint8Array[] = [];
    for (let off = 0; off < wire.byteLength;) {
      const n = 1 + Math.floor(rand() * 3000);
      for (const f of reader.push(wire.subarray(off, off + n))) frames.push(f.slice());
      off += n;
    }
    assert.equal(frames.length, 5);
    for (const f of frames) assert.deepEqual([f[0], f[1]], [0x05, 0x0b], "nfreeze header");

    const back = concat(frames.map(encodeFrame));
    const out = new TextDecoder().decode(runPerl(
      `
      use strict; use POE::Filter::Reference; use Data::Dumper; binmode STDIN;
      $Data::Dumper::Sortkeys = 1; $Data::Dumper::Indent = 0;
      ${data}
      my $in = do { local $/; <STDIN> };
      my $f = POE::Filter::Reference->new(Serializer => 'Storable');
      my @got;
      for (my $i = 0; $i < length $in; $i += 777) {   # odd chunk size: frames split across get calls
        push @got, @{ $f->get([substr($in, $i, 777)]) };
      }
      print scalar(@got), "\\n";
      print Dumper($got[$_]) eq Dumper($refs[$_]) ? "ok\\n" : "not ok $_\\n" for 0..$#refs;`,
      back,
    ));
    assert.equal(out, "5\nok\nok\nok\nok\nok\n");
  });

  test("raw payload bytes round-trip TS -> Perl get/put -> TS", { skip: perlMissing("POE") }, () => {
    const rand = rng(99);
    const raw: Uint8Array[] = [new Uint8Array(0), bytes("\0"), bytes("0\0"), bytes("123"), pattern(70000, 5)];
    for (let i = 0; i < 50; i++) {
      const p = new Uint8Array(Math.floor(rand() * 600));
      for (let j = 0; j < p.length; j++) p[j] = Math.floor(rand() * 256);
      raw.push(p);
    }
    const echoed = runPerl(
      `
      use strict; use POE::Filter::Reference; binmode STDIN; binmode STDOUT;
      package Raw { sub nfreeze { \${$_[0]} } sub thaw { $_[0] } }
      my $f = POE::Filter::Reference->new(Serializer => 'Raw');
      my $in = do { local $/; <STDIN> };
      my @got;
      for (my $i = 0; $i < length $in; $i += 13) { push @got, @{ $f->get([substr($in, $i, 13)]) } }
      die "leftover" if defined $f->get_pending;
      print join '', @{ $f->put([ map { \\(my $c = $_) } @got ]) };`,
      concat(raw.map(encodeFrame)),
    );
    assert.deepEqual(echoed, concat(raw.map(encodeFrame)));
    assert.deepEqual(readAll(new FrameReader(), [echoed]), raw);
  });
});

describe("FrameBatch: frames batched for one write, buffers reused", () => {
  const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
  const decode = (wire: Uint8Array) => {
    const r = new FrameReader();
    return r.push(wire);
  };

  test("what is taken is exactly encodeFrame of each payload, in order", () => {
    const b = new FrameBatch({ initialSize: 16 });
    assert.equal(b.take(), undefined);
    const payloads = [bytes(0, 1), bytes(9, 2), bytes(10, 3), bytes(999, 4), bytes(100000, 5)];
    for (const p of payloads) b.push(p);
    assert.equal(b.size, payloads.reduce((n, p) => n + encodeFrame(p).length, 0));
    const wire = b.take()!;
    assert.deepEqual(wire, Uint8Array.from(payloads.flatMap((p) => [...encodeFrame(p)])));
    assert.deepEqual(decode(wire), payloads);
    assert.equal(b.size, 0);
  });

  test("a released buffer is reused; a range is never touched before its release", () => {
    const b = new FrameBatch({ initialSize: 64 });
    b.push(bytes(20, 1));
    const first = b.take()!;
    const copy = first.slice();
    b.push(bytes(20, 2)); // fills the other buffer while the first is "being written"
    assert.throws(() => b.take(), /not released/);
    assert.deepEqual(first, copy);
    b.release(true);
    const second = b.take()!;
    assert.notEqual(second.buffer, first.buffer);
    assert.deepEqual(decode(second), [bytes(20, 2)]);
    b.release(true);
    b.push(bytes(20, 3));
    const third = b.take()!;
    assert.equal(third.buffer, first.buffer, "a written buffer is filled again");
    assert.deepEqual(decode(third), [bytes(20, 3)]);
  });

  test("after a failed write, or beyond keepSize, the buffer is dropped, not reused", () => {
    const b = new FrameBatch({ initialSize: 64, keepSize: 1024 });
    b.push(bytes(10, 1));
    const failed = b.take()!;
    b.release(false);
    b.push(bytes(10, 2));
    const next = b.take()!;
    assert.notEqual(next.buffer, failed.buffer);
    b.release(true);
    b.push(bytes(5000, 3));
    const big = b.take()!;
    b.release(true);
    b.push(bytes(10, 4));
    assert.notEqual(b.take()!.buffer, big.buffer);
  });

  test("idle() keeps one buffer at most", () => {
    const b = new FrameBatch({ initialSize: 64 });
    b.push(bytes(10, 1));
    const a = b.take()!;
    b.push(bytes(10, 2)); // queued behind the write: a second buffer
    b.release(true); // a becomes the spare
    const second = b.take()!;
    b.release(true);
    b.idle(); // nothing written or queued: the spare (second's) goes
    for (let i = 3; i < 6; i++) {
      b.push(bytes(10, i));
      const t = b.take()!;
      assert.equal(t.buffer, a.buffer, "one buffer kept, filled again");
      assert.notEqual(t.buffer, second.buffer, "the dropped buffer is not used again");
      b.release(true);
      b.idle();
    }
  });

  test("growing mid-batch keeps the frames queued before", () => {
    const b = new FrameBatch({ initialSize: 32 });
    const payloads = Array.from({ length: 50 }, (_, i) => bytes(i * 7, i));
    for (const p of payloads) b.push(p);
    assert.deepEqual(decode(b.take()!), payloads);
  });
});
