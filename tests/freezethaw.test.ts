// FreezeThaw codec: against real Perl (FreezeThaw from Debian's libfreezethaw-perl) both ways,
// byte-identical output, options, and hostile input.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  createFreezeThawFreezer,
  FreezeThawDecoder,
  FreezeThawEncoder,
  freezeThawFreeze,
  freezeThawFreezer,
  freezeThawThaw,
} from "../src/core/freezethaw.ts";
import { bless, blessedClass, PerlRef, PerlRegexp, PerlVString, StorableHook } from "../src/core/perl.ts";
import type { PerlInput, PerlValue } from "../src/core/perl.ts";
import { CodecError, LimitError } from "../src/core/errors.ts";
import { onlyDecodeErrors } from "./helpers/decode-error.ts";
import { mapCases } from "./helpers/map-cases.ts";
import { perlMissing, runPerl } from "./helpers/perl.ts";
import { spawnSync } from "node:child_process";

const enc = new TextEncoder();
const dec = new TextDecoder();
const ascii = (s: string) => enc.encode(s);

/** A canonical text of a value: structure, classes, and which objects are the same object. */
function canon(v: unknown): string {
  const ids = new Map<object, number>();
  const walk = (x: unknown): string => {
    if (x === null) return "undef";
    if (x === undefined) return "UNDEFINED";
    switch (typeof x) {
      case "string":
        return JSON.stringify(x);
      case "number":
        return `num(${Object.is(x, -0) ? "-0" : x})`;
      case "bigint":
        return `big(${x})`;
      case "boolean":
        return `bool(${x})`;
    }
    if (x instanceof Uint8Array) return `bytes(${Array.from(x).join(",")})`;
    if (x instanceof PerlVString) return `vstr(${x.vstring},${walk(x.value)})`;
    const o = x as object;
    const seen = ids.get(o);
    if (seen !== undefined) return `#${seen}`;
    const id = ids.size;
    ids.set(o, id);
    const cls = blessedClass(o);
    const tag = `@${id}${cls === undefined ? "" : `<${cls}>`}`;
    if (Array.isArray(o)) return `${tag}[${o.map(walk).join(",")}]`;
    if (o instanceof PerlRef) return `${tag}\\${walk(o.value)}`;
    if (o instanceof PerlRegexp) return `${tag}qr(${o.pattern})${o.flags}`;
    assert.equal(Object.getPrototypeOf(o), Object.prototype, "hash prototype must stay Object.prototype");
    const keys = Object.keys(o).sort();
    return `${tag}{${keys.map((k) => `${JSON.stringify(k)}:${walk((o as Record<string, unknown>)[k])}`).join(",")}}`;
  };
  return walk(v);
}

/** A hash with the given entries as own data properties (a "__proto__" key included). */
function hash(entries: [string, PerlValue][]): Record<string, PerlValue> {
  const o: Record<string, PerlValue> = {};
  for (const [k, v] of entries) {
    Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  }
  return o;
}

/** Splits `<len>\0<bytes>` frames (POE::Filter::Reference framing). */
function splitFrames(b: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  let i = 0;
  while (i < b.length) {
    let j = i;
    while (b[j] !== 0) j++;
    const n = Number(dec.decode(b.subarray(i, j)));
    out.push(b.slice(j + 1, j + 1 + n));
    i = j + 1 + n;
  }
  return out;
}

function joinFrames(frames: Uint8Array[]): Uint8Array {
  const parts = frames.flatMap((f) => [ascii(`${f.length}\0`), f]);
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const utf8 = (s: string) => enc.encode(s);
const allBytes = Uint8Array.from({ length: 256 }, (_, i) => i);

interface Case {
  name: string;
  /** Perl expression building the value. */
  perl: string;
  /** The value as the decoder (default options) returns it; also what the encoder is given. */
  js: () => PerlValue;
  /** Whether re-encoding the thawed value gives Perl's bytes exactly. */
  exact?: boolean;
  /** The value Perl should get from our freeze of `js`, when it is not `perl`. */
  perlWant?: string;
  /** Perl's thaw wraps regexps (`qr/$re/`): compare only with Perl's own freeze/thaw of the value. */
  perlNests?: boolean;
  /** Extra identity checks on the thawed value. */
  check?: (v: PerlValue) => void;
}

const corpus: Case[] = [
  {
    name: "IKC message",
    perl: `{event=>"poe://K/s/e", params=>[1,"a",undef,{x=>1}]}`,
    js: () => ({ event: "poe://K/s/e", params: ["1", "a", null, { x: "1" }] }),
  },
  {
    name: "IKC call with rsvp",
    perl: `{event=>"poe://Server/sess/st", params=>["x"], from=>{kernel=>"Client1", session=>"IKCLite"},
            rsvp=>{kernel=>"Client1", session=>"IKCLite", state=>"response1"}, wantarray=>0}`,
    js: () => ({
      event: "poe://Server/sess/st",
      params: ["x"],
      from: { kernel: "Client1", session: "IKCLite" },
      rsvp: { kernel: "Client1", session: "IKCLite", state: "response1" },
      wantarray: "0",
    }),
  },
  {
    name: "nested",
    perl: `{a=>[[[]],{}], b=>{c=>{d=>[1,[2,[3]]]}}, z=>"end"}`,
    js: () => ({ a: [[[]], {}], b: { c: { d: ["1", ["2", ["3"]]] } }, z: "end" }),
  },
  {
    name: "empty containers, empty string, undef",
    perl: `[[],{},"",undef,[undef]]`,
    js: () => [[], {}, "", null, [null]],
  },
  {
    name: "unicode text as UTF-8 bytes",
    perl: `do { my $s = "\\x{263a} caf\\x{e9} \\x{1F600}"; utf8::encode($s); [$s, "plain"] }`,
    js: () => ["☺ café 😀", "plain"],
  },
  {
    name: "Latin-1 byte string (not UTF-8) stays bytes",
    perl: `["caf\\xe9", "\\xff\\xfe"]`,
    js: () => [new Uint8Array([0x63, 0x61, 0x66, 0xe9]), new Uint8Array([0xff, 0xfe])],
  },
  {
    name: "binary bytes 0..255",
    perl: `[join("", map chr, 0..255), "\\0", "a|b\\$c"]`,
    js: () => [allBytes, "\0", "a|b$c"],
  },
  {
    name: "blessed hash, array, scalar ref",
    perl: `[bless({a=>1}, "Foo::Bar"), bless([2], "Foo::Bar"), bless(\\(my $x = "s"), "Baz"), bless({}, "Foo::Bar")]`,
    js: () => [
      bless({ a: "1" }, "Foo::Bar"),
      bless(["2"], "Foo::Bar"),
      bless(new PerlRef("s"), "Baz"),
      bless({}, "Foo::Bar"),
    ],
  },
  {
    name: "shared array",
    perl: `do { my $a=[1]; {a=>$a, b=>$a} }`,
    js: () => {
      const a = ["1"];
      return { a, b: a };
    },
    check: (v) => {
      const o = v as { a: unknown; b: unknown };
      assert.equal(o.a, o.b);
    },
  },
  {
    name: "hash cycle",
    perl: `do { my $h={x=>1}; $h->{self}=$h; $h }`,
    js: () => {
      const h: Record<string, PerlValue> = { x: "1" };
      h.self = h;
      return h;
    },
    check: (v) => {
      const o = v as { self: unknown };
      assert.equal(o.self, o);
    },
  },
  {
    name: "blessed shared and cyclic, packages renumbered",
    perl:
      `do { my $o = bless {}, "Foo"; $o->{me} = $o; my $p = bless [], "Bar"; [$o, $p, $o, $p, bless([], "Foo"), bless({}, "Baz")] }`,
    js: () => {
      const o = bless({} as Record<string, PerlValue>, "Foo");
      o.me = o;
      const p = bless([], "Bar");
      return [o, p, o, p, bless([], "Foo"), bless({}, "Baz")];
    },
    check: (v) => {
      const a = v as Record<string, unknown>[];
      assert.equal(a[0], a[2]);
      assert.equal(a[0]!.me, a[0]);
      assert.equal(a[1], a[3]);
      assert.notEqual(a[4], a[1]);
    },
  },
  {
    name: "shared nested in shared",
    perl: `do { my $a=[]; my $b={a=>$a}; my $c = [$b,$b,$a]; push @$a, $c; $c }`,
    js: () => {
      const a: PerlValue[] = [];
      const b = { a };
      const c = [b, b, a];
      a.push(c);
      return c;
    },
    check: (v) => {
      const c = v as [{ a: unknown[] }, unknown, unknown];
      assert.equal(c[0], c[1]);
      assert.equal(c[0].a, c[2]);
      assert.equal(c[0].a[0], c);
    },
  },
  {
    name: "scalar refs and refs to refs",
    perl: `[\\"x", \\\\"y", \\undef, \\1, \\[1], \\{k=>"v"}]`,
    js: () => [
      new PerlRef("x"),
      new PerlRef(new PerlRef("y")),
      new PerlRef(null),
      new PerlRef("1"),
      new PerlRef(["1"]),
      new PerlRef({ k: "v" }),
    ],
  },
  {
    name: "shared scalar refs",
    perl: `do { my $s = "x"; my $r = \\$s; [$r, $r, \\$r, \\$r] }`,
    js: () => {
      const r = new PerlRef("x");
      const rr = new PerlRef(r);
      return [r, r, rr, rr];
    },
    check: (v) => {
      const a = v as PerlRef[];
      assert.equal(a[0], a[1]);
      assert.equal(a[2], a[3]);
      assert.equal(a[2]!.value, a[0]);
    },
  },
  {
    name: "scalar ref to itself",
    perl: `do { my $y; $y = \\$y; [$y] }`,
    js: () => {
      const y = new PerlRef(null);
      y.value = y;
      return [y];
    },
    check: (v) => {
      const y = (v as PerlRef[])[0]!;
      assert.equal(y.value, y);
    },
  },
  {
    name: "__proto__ and other Object.prototype names as keys",
    perl: `{"__proto__" => {polluted => 1}, constructor => "c", toString => "t", hasOwnProperty => "h"}`,
    js: () =>
      hash([["__proto__", { polluted: "1" }], ["constructor", "c"], ["toString", "t"], ["hasOwnProperty", "h"]]),
    check: (v) => {
      assert.equal(Object.getPrototypeOf(v), Object.prototype);
      assert.ok(Object.hasOwn(v as object, "__proto__"));
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
    },
  },
  {
    name: "numbers travel as strings",
    perl: `[1.5, -3, "18446744073709551615", 1e20, 0.25, 0, -0.5e-10]`,
    js: () => ["1.5", "-3", "18446744073709551615", "1e+20", "0.25", "0", "-5e-11"],
  },
  {
    name: "regexp",
    perl: `[qr/ab+c/i, qr/x/]`,
    js: () => [new PerlRegexp("ab+c", "i"), new PerlRegexp("x", "")],
    perlNests: true,
  },
  {
    name: "large string and array",
    perl: `["x" x 100000, [1..2000]]`,
    js: () => ["x".repeat(100000), Array.from({ length: 2000 }, (_, i) => String(i + 1))],
  },
  {
    name: "non-ASCII hash keys",
    perl: `do { my $k = "\\x{263a}"; utf8::encode($k); +{$k => 1, "caf\\xe9" => 2, "b" => 3} }`,
    js: () => ({ "☺": "1", "café": "2", b: "3" }),
    exact: false, // Latin-1 key bytes come back as a JS string, sent again as UTF-8
    perlWant:
      `do { my $k = "\\x{263a}"; my $c = "caf\\x{e9}"; utf8::encode($_) for $k, $c; +{$k => 1, $c => 2, "b" => 3} }`,
  },
];

const PERL_PRELUDE = `
use strict; use warnings; use FreezeThaw qw(freeze thaw); use Data::Dumper; use JSON::PP;
binmode STDIN; binmode STDOUT;
sub canon { local $Data::Dumper::Sortkeys = 1; local $Data::Dumper::Indent = 1; local $Data::Dumper::Useqq = 1;
            local $Data::Dumper::Purity = 0; Dumper($_[0]) }
sub frame { length($_[0]) . "\\0" . $_[0] }
`;

function perlCases(exprs: string[]): string {
  return `my @cases = (\n${exprs.map((e) => `  sub { +(${e}) },`).join("\n")}\n);\n`;
}

/** Perl freezes every expression; returns the frames. */
function perlFreeze(exprs: string[]): Uint8Array[] {
  const out = runPerl(`${PERL_PRELUDE}${perlCases(exprs)} print frame(freeze($_->())) for @cases;`);
  return splitFrames(out);
}

/**
 * Perl thaws each frame and returns canonical dumps of: the thawed value, the value built in Perl,
 * and that value after Perl's own freeze and thaw.
 */
function perlThawCompare(exprs: string[], frames: Uint8Array[]): [string, string, string][] {
  const script = `${PERL_PRELUDE}${perlCases(exprs)}
local $/; my $in = <STDIN>; my @out;
for my $c (@cases) {
  $in =~ s/^(\\d+)\\0// or die "bad frame";
  my $f = substr($in, 0, $1, "");
  my @v = thaw($f);
  die "thaw gave " . scalar(@v) . " values" unless @v == 1;
  push @out, [canon($v[0]), canon($c->()), canon((thaw(freeze($c->())))[0])];
}
print JSON::PP->new->ascii->encode(\\@out);`;
  return JSON.parse(dec.decode(runPerl(script, joinFrames(frames))));
}

const FT = perlMissing("FreezeThaw");

describe("FreezeThaw against Perl", () => {
  test("Perl freezes, we thaw", { skip: FT }, () => {
    const frames = perlFreeze(corpus.map((c) => c.perl));
    assert.equal(frames.length, corpus.length);
    corpus.forEach((c, i) => {
      const v = freezeThawFreezer.thaw(frames[i]!);
      assert.equal(canon(v), canon(c.js()), c.name);
      c.check?.(v);
    });
  });

  test("our output is byte-identical to Perl's freeze", { skip: FT }, () => {
    const frames = perlFreeze(corpus.map((c) => c.perl));
    corpus.forEach((c, i) => {
      if (c.exact === false) return;
      assert.equal(dec.decode(freezeThawFreeze(c.js())), dec.decode(frames[i]!), c.name);
      assert.deepEqual(freezeThawFreeze(freezeThawThaw(frames[i]!)), frames[i], c.name);
    });
  });

  test("we freeze, Perl thaws and compares", { skip: FT }, () => {
    const results = perlThawCompare(
      corpus.map((c) => c.perlWant ?? c.perl),
      corpus.map((c) => freezeThawFreezer.freeze(c.js())),
    );
    results.forEach(([got, want, viaPerl], i) => {
      const c = corpus[i]!;
      assert.equal(got, viaPerl, `${c.name}: as Perl's own freeze/thaw`);
      if (!c.perlNests) assert.equal(got, want, c.name);
    });
  });

  test("JS-only values: numbers, booleans, bigint, text, Uint8Array", { skip: FT }, () => {
    const cases: [string, PerlInput][] = [
      [`{n=>1, f=>1.5, neg=>-3, big=>"18446744073709551615", t=>1, f2=>"", e=>1e20, small=>1e-7}`, {
        n: 1,
        f: 1.5,
        neg: -3,
        big: 18446744073709551615n,
        t: true,
        f2: false,
        e: 1e20,
        small: 1e-7,
      }],
      [`do { my $s = "\\x{263a} caf\\x{e9}"; utf8::encode($s); [$s, "abc"] }`, ["☺ café", "abc"]],
      [`[join("", map chr, 0..255)]`, [allBytes]],
      [`["Inf", "-Inf", "NaN", 0]`, [Infinity, -Infinity, NaN, -0]],
      [`[undef, undef]`, [null, undefined]],
      [`["\\x01\\x02\\x03"]`, [new PerlVString("v1.2.3", "\x01\x02\x03")]],
      [
        `do { my $h = {}; [$h, $h] }`,
        (() => {
          const h = {};
          return [h, h];
        })(),
      ],
      ...mapCases(),
    ];
    const results = perlThawCompare(cases.map((c) => c[0]), cases.map((c) => freezeThawFreeze(c[1])));
    results.forEach(([got, want, viaPerl], i) => {
      assert.equal(got, want, cases[i]![0]);
      assert.equal(got, viaPerl, cases[i]![0]);
    });
  });

  test("a double survives exactly where Perl's %.15g would round it", { skip: FT }, () => {
    const out = runPerl(
      `use FreezeThaw qw(thaw); local $/; my ($v) = thaw(<STDIN>); print $v->[0] == 0.1 + 0.2 ? "same" : "different", " ", $v->[1] == 1/3 ? "same" : "different";`,
      freezeThawFreeze([0.1 + 0.2, 1 / 3]),
    );
    assert.equal(dec.decode(out), "same same");
  });

  test("Perl's UTF-8 flagged strings arrive as JS strings (real POE::Filter::Reference and SysRW)", {
    skip: perlMissing("FreezeThaw", "POE::Filter::Reference", "POE::Driver::SysRW"),
  }, () => {
    // Perl counts characters but POE sends its internal UTF-8 under `use bytes`: whenever a flagged
    // string is in the message, the whole frame is UTF-8 with counts in characters.
    const script = `use strict; use warnings; use POE::Filter::Reference; use POE::Driver::SysRW; use FreezeThaw ();
      { package C; sub new { bless {}, shift } sub freeze { FreezeThaw::freeze($_[1]) } sub thaw { (FreezeThaw::thaw($_[1]))[0] } }
      my $f = POE::Filter::Reference->new(Serializer => C->new); my $d = POE::Driver::SysRW->new;
      my $up = "caf\\x{e9}"; utf8::upgrade($up);
      my $sh = ["\\x{263a}"];
      my @v = ({s => "\\x{e9}\\x{263a}\\x{1F600}", n => 1}, {s => $up}, {b => "\\xe9", s => "\\x{263a}", "k\\x{263a}" => [1]},
        [bless({"\\x{263a}" => $sh}, "Caf\\x{e9}::X"), $sh], {s => "caf\\xe9"}, {s => "\\xc3\\xa9"});
      for (@v) { $d->put($f->put([$_])); $d->flush(\\*STDOUT) }
      my $first = $f->put([$v[0]])->[0]; $first =~ s/^\\d+\\0//;
      print STDERR eval { FreezeThaw::thaw($first); 1 } ? "perl-thaws\\n" : "perl-cannot\\n";`;
    const r = spawnSync("perl", ["-e", script]);
    assert.equal(r.status, 0, String(r.stderr));
    // Perl itself cannot thaw such a frame: FreezeThaw::thaw counts octets.
    assert.equal(String(r.stderr).trim(), "perl-cannot");
    const frames = splitFrames(new Uint8Array(r.stdout));
    const got = frames.map((f) => freezeThawFreezer.thaw(f));
    const sh = ["☺"];
    assert.equal(
      canon(got),
      canon([
        { s: "é☺😀", n: "1" },
        { s: "café" },
        { b: "é", s: "☺", "k☺": ["1"] },
        [bless({ "☺": sh }, "Café::X"), sh],
        { s: new Uint8Array([0x63, 0x61, 0x66, 0xe9]) }, // a Latin-1 byte string: not UTF-8, so bytes
        { s: "é" }, // a byte string holding UTF-8
      ]),
    );
  });

  test("what we send Perl: UTF-8 octets by default, the same characters with strings: latin1", { skip: FT }, () => {
    const script = `use strict; use warnings; use FreezeThaw qw(thaw); use JSON::PP; binmode STDIN;
      local $/; my @out;
      for my $fr (split /\\n--\\n/, <STDIN>) {
        my ($v) = thaw($fr); my $s = $v->{s}; my $k = (grep { $_ ne "s" } keys %$v)[0];
        my $dec = $s; utf8::decode($dec);
        push @out, [length($s), utf8::is_utf8($s) ? 1 : 0, $s eq "\\x{e9}t\\x{e9}" ? 1 : 0, $dec eq "\\x{e9}t\\x{e9} \\x{263a}" ? 1 : 0, $k];
      }
      print JSON::PP->new->ascii->encode(\\@out);`;
    const frames = [
      freezeThawFreeze({ s: "été ☺", "clé": 1 }),
      new FreezeThawEncoder({ strings: "latin1" }).encode({ s: "été", "clé": 1 }),
    ];
    const sep = ascii("\n--\n");
    const input = new Uint8Array([...frames[0]!, ...sep, ...frames[1]!]);
    const out = JSON.parse(dec.decode(runPerl(script, input)));
    // default: 9 octets, no flag; utf8::decode gives "été ☺"; the key is the UTF-8 octets of "clé"
    assert.deepEqual(out[0], [9, 0, 0, 1, "cl\u00c3\u00a9"]);
    // latin1: Perl holds exactly "été" (3 characters) and the key "clé"
    assert.deepEqual(out[1], [3, 0, 1, 0, "cl\u00e9"]);
  });

  test("POE::Filter::Reference with FreezeThaw frames what we thaw, and thaws what we freeze", {
    skip: perlMissing("FreezeThaw", "POE::Filter::Reference"),
  }, () => {
    const msg = {
      event: "poe://K/s/e",
      params: ["PING", { nested: [null, "x"] }],
      from: { kernel: "c", session: "IKCLite" },
    };
    const script = `use strict; use POE::Filter::Reference; use Data::Dumper; binmode STDIN; binmode STDOUT;
      my $f = POE::Filter::Reference->new("FreezeThaw");
      local $/; my $in = <STDIN>;
      my $got = $f->get([$in]);
      local $Data::Dumper::Sortkeys = 1; local $Data::Dumper::Indent = 0;
      my $echo = $got->[0]; $echo->{seen} = "yes";
      print @{ $f->put([$echo]) };`;
    const [body] = splitFrames(runPerl(script, joinFrames([freezeThawFreezer.freeze(msg)])));
    const back = freezeThawFreezer.thaw(body!);
    assert.equal(canon(back), canon({ ...msg, seen: "yes" }));
  });
});

describe("FreezeThaw options", () => {
  test("byteStrings", () => {
    const text = freezeThawFreeze(["☺", new Uint8Array([0xff, 0x41])]);
    assert.equal(canon(freezeThawThaw(text)), canon(["☺", new Uint8Array([0xff, 0x41])]));
    assert.equal(canon(freezeThawThaw(text, { byteStrings: "utf8" })), canon(["☺", new Uint8Array([0xff, 0x41])]));
    assert.equal(
      canon(freezeThawThaw(text, { byteStrings: "bytes" })),
      canon([utf8("☺"), new Uint8Array([0xff, 0x41])]),
    );
    assert.equal(
      canon(freezeThawThaw(text, { byteStrings: "auto" })),
      canon([utf8("☺"), new Uint8Array([0xff, 0x41])]),
    );
    assert.equal(canon(freezeThawThaw(text, { byteStrings: "latin1" })), canon(["\xe2\x98\xba", "\xffA"]));
  });

  test("strings: latin1 writes one octet per character and refuses the rest", () => {
    const e = new FreezeThawEncoder({ strings: "latin1" });
    assert.deepEqual(
      e.encode({ "clé": "café" }),
      new Uint8Array([...ascii("FrT;@1|%2|$3|cl"), 0xe9, ...ascii("$4|caf"), 0xe9]),
    );
    assert.throws(
      () => e.encode(["☺"]),
      (err: unknown) => err instanceof CodecError && /U\+263A/.test((err as Error).message),
    );
    assert.throws(() => new FreezeThawEncoder({ strings: "utf16" as never }), TypeError);
    assert.equal(canon(freezeThawThaw(e.encode(["é"]), { byteStrings: "latin1" })), canon(["é"]));
  });

  test("character frames: counts in code points, every string a JS string", () => {
    // What Perl writes when a UTF-8 flagged string is in the message (see the Perl test above).
    const frame = utf8("FrT;@1|%6|$1|b$1|s$2|k☺$1|é$2|☺😀@1|$1|1");
    assert.equal(canon(freezeThawThaw(frame)), canon({ b: "é", s: "☺😀", "k☺": ["1"] }));
    // Perl's internal UTF-8 may hold a surrogate; JS strings can too.
    const sur = new Uint8Array([...ascii("FrT;@1|@1|$2|é"), 0xed, 0xa0, 0x80]);
    assert.equal((freezeThawThaw(sur) as string[])[0], "é\ud800");
    // Neither reading works: the octet reading's error is reported.
    assert.throws(
      () => freezeThawThaw(utf8("FrT;@1|$9|é")),
      (e: unknown) => e instanceof CodecError && /truncated/.test((e as Error).message),
    );
    assert.throws(() => freezeThawThaw(new Uint8Array([...ascii("FrT;@1|$2|"), 0xc3, 0x28, 0x41])), CodecError);
    // Limits are not retried in the other reading.
    assert.throws(() => freezeThawThaw(utf8(`FrT;@1|${"@1|".repeat(50)}$2|é`), { maxDepth: 10 }), LimitError);
  });

  test("numericStrings", () => {
    const text = "FrT;@1|@9|$1|1$2|-7$3|1.5$5|1e+20$20|18446744073709551615$3|007$2|-0$0|$3|1.0";
    assert.equal(
      canon(freezeThawThaw(text, { numericStrings: "number" })),
      canon([1, -7, 1.5, 1e20, 18446744073709551615n, "007", "-0", "", 1]),
    );
    assert.equal(
      canon(freezeThawThaw(text)),
      canon(["1", "-7", "1.5", "1e+20", "18446744073709551615", "007", "-0", "", "1.0"]),
    );
  });

  test("decodeAll / encodeAll carry a whole list, decode returns its first value", () => {
    const bytes = new FreezeThawEncoder().encodeAll(["a", ["b"], null]);
    assert.equal(dec.decode(bytes), "FrT;@3|$1|a@1|$1|b_");
    assert.equal(canon(new FreezeThawDecoder().decodeAll(bytes)), canon(["a", ["b"], null]));
    assert.equal(new FreezeThawDecoder().decode(bytes), "a");
    assert.equal(freezeThawThaw("FrT;@0|"), null);
  });

  test("signature", () => {
    assert.throws(() => freezeThawThaw("@1|_"), CodecError);
    assert.equal(canon(new FreezeThawDecoder({ requireSignature: false }).decodeAll("@1|_")), canon([null]));
  });

  test("createFreezeThawFreezer applies its options both ways, for a connection's serializer", () => {
    const f = createFreezeThawFreezer({ numericStrings: "number" }, { strings: "latin1" });
    assert.equal(f.name, "FreezeThaw");
    assert.deepEqual(freezeThawFreezer.thaw(freezeThawFreezer.freeze({ n: 2.5 })), { n: "2.5" });
    assert.deepEqual(f.thaw(f.freeze({ n: 2.5 })), { n: 2.5 });
    const latin1 = f.freeze(["\u00e9"]);
    assert.ok(latin1.includes(0xe9) && !latin1.includes(0xc3), "one byte per character");
    assert.throws(() => f.freeze(["\u263a"]), CodecError); // beyond Latin-1
    assert.throws(() => f.thaw("text" as never), CodecError); // frames are bytes
    assert.throws(() => createFreezeThawFreezer({ maxDepth: -1 }), TypeError);
  });

  test("freezer name and bad options", () => {
    assert.equal(freezeThawFreezer.name, "FreezeThaw");
    assert.throws(() => new FreezeThawDecoder({ byteStrings: "nope" as never }), TypeError);
    assert.throws(() => new FreezeThawDecoder({ maxDepth: -1 }), TypeError);
  });

  test("values outside the model are refused", () => {
    for (
      const bad of [
        () => 1,
        Symbol("s"),
        new Map([[{}, 1]]), // a Map is a hash, but its keys must be text
        new Date(0),
        new Uint16Array(2),
        new StorableHook("C", "hash", new Uint8Array(), []),
      ]
    ) {
      assert.throws(() => freezeThawFreeze([bad as never]), CodecError);
    }
  });
});

/** A small deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("FreezeThaw hostile input", () => {
  const samples = corpus.map((c) => freezeThawFreeze(c.js()));

  test("truncation at every offset is a CodecError", () => {
    for (const s of samples.slice(0, 15)) {
      for (let n = 0; n < s.length; n++) {
        assert.throws(
          () => freezeThawFreezer.thaw(s.subarray(0, n)),
          CodecError,
          `prefix ${n} of ${dec.decode(s.subarray(0, 60))}`,
        );
      }
    }
  });

  test("random mutations end in a value or a decode error, never anything else", () => {
    const r = rng(7);
    for (let i = 0; i < 4000; i++) {
      const s = samples[i % 15]!.slice();
      const flips = 1 + Math.floor(r() * 3);
      for (let k = 0; k < flips; k++) {
        s[Math.floor(r() * s.length)] = "$@%\\_<>){}!|0123456789ax&*?/"
          .charCodeAt(Math.floor(r() * 29));
      }
      onlyDecodeErrors(() => freezeThawFreezer.thaw(s));
    }
    for (let i = 0; i < 500; i++) {
      const s = Uint8Array.from({ length: Math.floor(r() * 64) }, () => Math.floor(r() * 256));
      onlyDecodeErrors(() => new FreezeThawDecoder({ requireSignature: false }).decodeAll(s));
    }
  });

  test("deep nesting is a LimitError", () => {
    for (const unit of ["@1|", "\\", "%2|$1|k", ">>0|$1|C@1|"]) {
      const text = `FrT;@1|${unit.repeat(100_000)}_`;
      assert.throws(() => freezeThawThaw(text), LimitError, unit);
    }
    const ok = `FrT;@1|${"@1|".repeat(400)}_`;
    assert.doesNotThrow(() => freezeThawThaw(ok));
    assert.throws(() => freezeThawThaw(ok, { maxDepth: 100 }), LimitError);
  });

  test("huge declared lengths and counts fail fast", () => {
    assert.throws(() => freezeThawThaw("FrT;@1|$99999999999|x"), LimitError); // over maxStringLength
    assert.throws(() => freezeThawThaw("FrT;@1|$9999999999999999999|x"), CodecError);
    assert.throws(() => freezeThawThaw("FrT;@999999999|_"), CodecError);
    assert.throws(() => freezeThawThaw("FrT;!999999999|%0|"), LimitError);
    assert.throws(() => freezeThawThaw("FrT;@1|/99|x"), CodecError);
    assert.throws(() => freezeThawThaw(`FrT;@1|@100|${"_".repeat(100)}`, { maxItems: 50 }), LimitError);
    assert.throws(() => freezeThawThaw("FrT;@1|_", { maxInputBytes: 4 }), LimitError);
  });

  test("malformed structure is a CodecError with an offset", () => {
    const bad = [
      "FrT;@1|&3|sub", // code ref
      "FrT;@1|*6|main::", // glob
      "FrT;?$4|lock@1|_", // safeFreeze cache
      "FrT;@1|<0|", // shared item without a shared section
      "FrT;!0|%0|%0|@1|<1|", // unknown shared item
      "FrT;!0|$1|x%0|@1|<0|", // shell is not empty
      "FrT;!0|%0|@0|@1|<0|", // contents of another kind
      "FrT;!0|%0|_@1|<0|", // contents not a ref
      "FrT;@1|%1|$1|k", // odd hash count
      "FrT;@1|%2|_$1|v", // key not a string
      "FrT;@1|>)0|%0|", // unknown package id
      "FrT;@1|>>0|$0|%0|", // empty package name
      "FrT;@1|>>0|$1|C$1|x", // bless a non-ref
      "FrT;@1|{>0|$1|C%0|", // allocation outside its section
      "FrT;$1|x", // top level not a list
      "FrT;@1|_junk", // trailing data
      "FrT;@01x", // bad number
    ];
    for (const b of bad) {
      assert.throws(() => freezeThawThaw(b), (e: unknown) => e instanceof CodecError && e.offset >= 0, b);
    }
  });

  test("a __proto__ key cannot pollute prototypes", () => {
    const v = freezeThawThaw("FrT;@1|%4|$9|__proto__$1|a%2|$8|polluted$1|1$1|x") as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(v), Object.prototype);
    assert.deepEqual(Object.getOwnPropertyDescriptor(v, "__proto__")?.value, { polluted: "1" });
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    const shared = freezeThawThaw("FrT;!0|%0|%2|$9|__proto__<0|@1|<0|") as Record<string, unknown>;
    assert.equal(Object.getOwnPropertyDescriptor(shared, "__proto__")?.value, shared);
    assert.equal(Object.getPrototypeOf(shared), Object.prototype);
  });

  test("the encoder refuses structures nested deeper than maxDepth", () => {
    let deep: PerlValue = null;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    assert.throws(() => freezeThawFreeze(deep), LimitError);
    let ok: PerlValue = null;
    for (let i = 0; i < 300; i++) ok = { k: ok };
    assert.doesNotThrow(() => freezeThawFreeze(ok));
    assert.throws(() => freezeThawFreeze(ok, { maxDepth: 10 }), LimitError);
  });
});
