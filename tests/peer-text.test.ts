// Text built from peer data (issue 17, items 1, 7 and 11): linear in its input, bounded in
// length, control characters escaped. Cost is asserted by counting the work done (property reads
// of the value described), never by the clock.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { nfreeze, thaw } from "../src/core/storable/mod.ts";
import { addressName, describeValue, parseMessage, targetName } from "../src/core/message.ts";
import { MAX_NAME_LENGTH, scalarText, toSpecifier } from "../src/core/specifier.ts";
import { ESCAPE_MAX_LENGTH, escapeText, latin1Decode, latin1Encode } from "../src/core/text.ts";
import { ProtocolError } from "../src/core/errors.ts";
import { Reporter } from "../src/kernel/report.ts";
import { remoteErrorFrom } from "../src/kernel/remote-error.ts";
import type { PerlValue } from "../src/core/perl.ts";

/** `[x, x]` nested `depth` deep: 2^depth paths through 2 x depth nodes. */
function sharedDag(depth: number): PerlValue {
  let x: PerlValue = [1];
  for (let i = 0; i < depth; i++) x = [x, x];
  return x;
}

/** Wraps `v` so that every property read (at any depth) is counted in `reads.n`. */
function counted(v: unknown, reads: { n: number }, seen = new Map<object, unknown>()): unknown {
  if (v === null || typeof v !== "object" || v instanceof Uint8Array) return v;
  const known = seen.get(v);
  if (known) return known;
  const p = new Proxy(v, {
    get(t, k, r) {
      reads.n++;
      return counted(Reflect.get(t, k, r), reads, seen);
    },
  });
  seen.set(v, p);
  return p;
}

describe("describeValue: bounded by its output, not by the value", () => {
  test("the 275-byte shared-reference frame (22 levels of [x, x]) reads a bounded number of nodes", () => {
    const frame = nfreeze(sharedDag(22) as never);
    assert.ok(frame.length < 300, `frame of ${frame.length} bytes`);
    const value = thaw(frame);
    const reads = { n: 0 };
    const text = describeValue(counted(value, reads));
    assert.ok(text.length <= 123, text);
    // The old JSON.stringify walked all 4 million paths; the walk now stops with its output.
    assert.ok(reads.n < 1000, `${reads.n} property reads`);
    // Linear baseline: the same walk on a value with 2 levels reads about as much.
    const small = { n: 0 };
    describeValue(counted(sharedDag(2), small));
    assert.ok(reads.n <= small.n * 40, `${reads.n} reads against ${small.n} for 2 levels`);
  });

  test("parseMessage of that frame is a ProtocolError with a bounded text", () => {
    const m = parseMessage(thaw(nfreeze(sharedDag(22) as never)));
    assert.ok(m instanceof ProtocolError);
    assert.ok(m.message.length < 200, m.message);
  });

  test("a remote_error whose text is that value (the client is not dropped for it) is bounded too", () => {
    const e = remoteErrorFrom([sharedDag(22), "Evil\nKernel", "deliver"]);
    assert.ok(e.remoteMessage.length <= 123, e.remoteMessage);
  });

  test("a hash with many keys has its keys read once however often it is shared", () => {
    const big: Record<string, number> = {};
    for (let i = 0; i < 10_000; i++) big[`k${i}`] = i;
    const reads = { n: 0 };
    const ownKeys = { n: 0 };
    const h = new Proxy(big, {
      ownKeys(t) {
        ownKeys.n++;
        return Reflect.ownKeys(t);
      },
    });
    describeValue(counted(Array.from({ length: 100 }, () => h), reads));
    assert.ok(ownKeys.n <= 1, `keys listed ${ownKeys.n} times`);
  });

  test("strings and keys have control characters escaped", () => {
    const t = describeValue({ "a\nb": "x\r\n[ikc RT] client Admin authenticated\u2028" });
    assert.doesNotMatch(t, /[\n\r\u2028]/);
    assert.match(t, /a\\nb/);
  });

  test("byte strings, refs, bigints and undefined keep a short form", () => {
    assert.equal(describeValue({ a: [1, 2] }), '{"a":[1,2]}');
    assert.equal(describeValue(new Uint8Array(5)), "<5 bytes>");
    assert.equal(describeValue([10n, null, undefined]), "[10,null,undefined]");
  });
});

describe("escapeText", () => {
  test("newlines, controls, DEL, C1, separators, bidi controls and lone surrogates become visible", () => {
    assert.equal(escapeText("a\nb\rc\td\\e"), "a\\nb\\rc\\td\\\\e");
    assert.equal(escapeText("\u0000\u001b\u007f\u0085"), "\\x00\\x1b\\x7f\\x85");
    assert.equal(escapeText("\u2028\u202e\ufeff"), "\\x{2028}\\x{202E}\\x{FEFF}");
    assert.equal(escapeText("\ud800x"), "\\x{D800}x");
    assert.equal(escapeText("😀é"), "😀é"); // a surrogate pair and Latin-1 stay as they are
  });

  test("bounded: a 32 MB name gives a short text naming its length", () => {
    const huge = "\n".repeat(32 << 20);
    const t = escapeText(huge);
    assert.ok(t.length <= 2 * ESCAPE_MAX_LENGTH + 30, `${t.length} characters`);
    assert.match(t, /\.\.\.\(33554432 chars\)$/);
  });

  test("addressName and targetName escape each part: a name cannot forge a log line", () => {
    const forged = "Eve\n[ikc RT] client Admin authenticated";
    assert.doesNotMatch(addressName({ kernel: forged, session: "s\r", state: "x" }), /[\n\r]/);
    assert.doesNotMatch(targetName({ kernel: "K", session: forged, state: "e" }), /\n/);
    assert.equal(addressName({ kernel: "K", session: "IKC", state: "ping" }), "poe://K/IKC/ping");
  });

  test("the Reporter's default console sink prints one line whatever the message holds", () => {
    const lines: string[] = [];
    const warn = console.warn;
    console.warn = (...a: unknown[]) => void lines.push(a.map(String).join(" "));
    try {
      new Reporter("ikc RT").report(new Error("client Eve\n[ikc RT] client Admin authenticated"));
    } finally {
      console.warn = warn;
    }
    assert.equal(lines.length, 1);
    assert.doesNotMatch(lines[0]!, /\n/);
    assert.match(lines[0]!, /^\[ikc RT\] client Eve\\n\[ikc RT\]/);
  });
});

describe("byte-string names (item 7)", () => {
  test("converted whole, not a byte at a time, and identical to Latin-1", () => {
    const b = new Uint8Array(MAX_NAME_LENGTH);
    for (let i = 0; i < b.length; i++) b[i] = (i * 7) & 0xff;
    const s = scalarText(b)!;
    assert.equal(s.length, b.length);
    for (let i = 0; i < b.length; i++) assert.equal(s.charCodeAt(i), b[i]);
    assert.deepEqual(latin1Encode(latin1Decode(b)), b);
  });

  test("a name longer than MAX_NAME_LENGTH is no name: the message is a ProtocolError, not a 2 MB string", () => {
    const long = new Uint8Array(2 << 20).fill(0xe9);
    assert.equal(scalarText(long), undefined);
    assert.equal(scalarText("x".repeat(MAX_NAME_LENGTH + 1)), undefined);
    assert.equal(toSpecifier({ kernel: "K", session: long, state: "e" }), undefined);
    const m = parseMessage(thaw(nfreeze({ event: { kernel: "K", session: long, state: "e" }, params: 1 } as never)));
    assert.ok(m instanceof ProtocolError);
    assert.ok(m.message.length < 200, m.message);
  });
});
