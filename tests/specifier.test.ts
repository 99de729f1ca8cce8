// Specifier parsing: every valid form pinned by a table, the old regular expression kept as an
// oracle for the forms it read right, and megabyte inputs of many shapes in linear time.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import process from "node:process";
import {
  formatSpecifier,
  parseSpecifier,
  qualifySpecifier,
  type Specifier,
  toSpecifier,
} from "../src/core/specifier.ts";
import { ProtocolError } from "../src/core/errors.ts";

// The parser this replaced; it backtracks quadratically, so only short strings go near it.
const OLD_RE = /^(?:poe:(?:\/\/([^/?]*))?\/?)?([^/?]+)\/([^?]*)(?:\?(.*))?$/s;
function oldParse(spec: string): Specifier | undefined {
  const m = OLD_RE.exec(spec);
  if (!m || m[3] === "") return undefined;
  const out: Specifier = { session: m[2], state: m[3] };
  if (m[1] !== undefined && m[1] !== "") out.kernel = m[1];
  if (m[4] !== undefined) out.args = m[4];
  return out;
}

function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("parseSpecifier: valid forms", () => {
  const table: Array<[string, Specifier]> = [
    ["poe://K/s/e", { kernel: "K", session: "s", state: "e" }],
    ["poe://RefServer/test/echo?x", { kernel: "RefServer", session: "test", state: "echo", args: "x" }],
    ["poe://K/s/e?", { kernel: "K", session: "s", state: "e", args: "" }],
    ["poe://K/s/e?a?b/c", { kernel: "K", session: "s", state: "e", args: "a?b/c" }],
    ["poe://K/s/e/f", { kernel: "K", session: "s", state: "e/f" }], // states may hold '/'
    ["poe://K/s/e/", { kernel: "K", session: "s", state: "e/" }],
    ["poe://K/s//", { kernel: "K", session: "s", state: "/" }],
    ["poe://vm-1.example:603/IKC/ping", { kernel: "vm-1.example:603", session: "IKC", state: "ping" }],
    ["poe:///s/e", { session: "s", state: "e" }], // empty kernel: no kernel
    ["poe:/s/e", { session: "s", state: "e" }],
    ["poe:/s/e?x=1", { session: "s", state: "e", args: "x=1" }],
    ["poe:s/e", { session: "s", state: "e" }],
    ["poe:s/e/f?g", { session: "s", state: "e/f", args: "g" }],
    ["s/e", { session: "s", state: "e" }],
    ["s/e?x=1", { session: "s", state: "e", args: "x=1" }],
    ["s/e/f", { session: "s", state: "e/f" }],
    ["IKCLite/response1", { session: "IKCLite", state: "response1" }],
    ["poe/e", { session: "poe", state: "e" }],
    ["POE://K/s/e", { session: "POE:", state: "/K/s/e" }], // only lower-case poe: is the scheme
    ["s p/a b", { session: "s p", state: "a b" }],
    ["s\n/e\n", { session: "s\n", state: "e\n" }],
    ["sé/état?ü", { session: "sé", state: "état", args: "ü" }],
  ];
  for (const [spec, want] of table) {
    test(JSON.stringify(spec), () => {
      assert.deepEqual(parseSpecifier(spec), want);
      assert.deepEqual(oldParse(spec), want, "same as the old parser");
    });
  }
});

describe("parseSpecifier: errors", () => {
  const bad = [
    "",
    "s",
    "nostate",
    "s/",
    "/e",
    "/",
    "?",
    "s?/e",
    "?/e",
    "s/?x",
    "poe:",
    "poe:/",
    "poe://",
    "poe://K", // no session: the old parser read {session: "poe:", state: "/K"}
    "poe://K/sess", // no state: the old parser read {session: "K", state: "sess"}
    "poe://K/",
    "poe://K?x/s/e",
    "poe://K/s",
    "poe://K/s/",
    "poe://K/s/?x",
    "poe://K//s/e",
    "poe:/s",
    "poe:/s/",
    "poe:s",
    "poe:/?x/y",
    "poe://Ks/e",
  ];
  for (const spec of bad) {
    test(JSON.stringify(spec), () => {
      assert.throws(() => parseSpecifier(spec), ProtocolError);
      assert.equal(toSpecifier(spec), undefined);
    });
  }

  test("non-strings are ProtocolErrors too", () => {
    for (const v of [undefined, null, 42, {}, ["s/e"]]) {
      assert.throws(() => parseSpecifier(v as unknown as string), ProtocolError);
    }
  });

  test("the error quotes a bounded prefix of a huge input", () => {
    assert.throws(() => parseSpecifier("poe://" + "a".repeat(1_000_000)), (err: unknown) => {
      assert.ok(err instanceof ProtocolError);
      assert.ok(err.message.length < 300, `message of ${err.message.length} chars`);
      assert.match(err.message, /1000006 chars/);
      return true;
    });
  });
});

describe("parseSpecifier against the old parser", () => {
  test("random strings: bare forms agree exactly; every poe: form read now is read the same as before", () => {
    const alphabet = ["p", "o", "e", ":", "/", "?", "a", "K", "poe:", "poe:/", "poe://", "//"];
    const rnd = prng(9);
    let parsed = 0;
    for (let n = 0; n < 30_000; n++) {
      let s = "";
      const len = Math.floor(rnd() * 8);
      for (let i = 0; i < len; i++) s += alphabet[Math.floor(rnd() * alphabet.length)];
      const old = oldParse(s);
      let now: Specifier | undefined;
      try {
        now = parseSpecifier(s);
        parsed++;
      } catch (e) {
        assert.ok(e instanceof ProtocolError);
      }
      if (!s.startsWith("poe:")) assert.deepEqual(now, old, JSON.stringify(s));
      else if (now !== undefined) assert.deepEqual(now, old, JSON.stringify(s));
    }
    assert.ok(parsed > 1000, `only ${parsed} valid`);
  });

  test("formatSpecifier output parses back", () => {
    for (
      const s of [
        { kernel: "K", session: "s", state: "e" },
        { session: "s", state: "e/f", args: "x?y" },
        { kernel: "K", session: "s", state: "e", args: "" },
      ] as Specifier[]
    ) {
      assert.deepEqual(parseSpecifier(formatSpecifier(s)), s);
    }
  });
});

describe("parseSpecifier in linear time", () => {
  const M = 1 << 20;
  const rnd = prng(1);
  const mixed = (chars: string) => {
    let s = "";
    for (let i = 0; i < M; i++) s += chars[Math.floor(rnd() * chars.length)];
    return s;
  };
  const shapes: Array<[string, () => string]> = [
    ["poe:// + a*", () => "poe://" + "a".repeat(M)],
    ["poe://K/ + a*", () => "poe://K/" + "a".repeat(M)],
    ["poe:// + /*", () => "poe://" + "/".repeat(M)],
    ["poe:/ + a*", () => "poe:/" + "a".repeat(M)],
    ["poe: + a*", () => "poe:" + "a".repeat(M)],
    ["a*", () => "a".repeat(M)],
    ["a* + /", () => "a".repeat(M) + "/"],
    ["a* + /b", () => "a".repeat(M) + "/b"],
    ["/*", () => "/".repeat(M)],
    ["?*", () => "?".repeat(M)],
    ["a/ + ?*", () => "a/" + "?".repeat(M)],
    ["s/ + (e/)*", () => "s/" + "e/".repeat(M / 2)],
    ["poe://K/s/ + a* + ?x", () => "poe://K/s/" + "a".repeat(M) + "?x"],
    ["(poe:)*", () => "poe:".repeat(M / 4)],
    ["(poe://)*", () => "poe://".repeat(M / 6)],
    ["poe: + (/a)*", () => "poe:" + "/a".repeat(M / 2)],
    ["random over poe:/?a", () => mixed("poe:/?a")],
    ["random over /a", () => mixed("/a")],
    ["random over a?", () => mixed("a?")],
  ];
  for (const [name, make] of shapes) {
    test(`${name} (1 MiB) in well under 100 ms`, () => {
      const spec = make();
      // CPU time, not elapsed: waiting for a core on a busy machine does not count.
      const before = process.cpuUsage();
      try {
        parseSpecifier(spec);
      } catch (e) {
        assert.ok(e instanceof ProtocolError);
      }
      toSpecifier(spec);
      toSpecifier({ session: "s", state: spec });
      try {
        qualifySpecifier(spec, "R");
      } catch (e) {
        assert.ok(e instanceof ProtocolError);
      }
      const used = process.cpuUsage(before);
      const ms = (used.user + used.system) / 1000;
      assert.ok(ms < 100, `took ${ms.toFixed(1)} ms of CPU`);
    });
  }

  test("the hostile event of issue 9: poe:// + 64,000 a's", () => {
    const before = process.cpuUsage();
    assert.throws(() => parseSpecifier("poe://" + "a".repeat(64_000)), ProtocolError);
    const used = process.cpuUsage(before);
    assert.ok((used.user + used.system) / 1000 < 50, "took 50 ms of CPU or more");
  });
});
