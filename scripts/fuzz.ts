/**
 * Mutation fuzzer for the three decoders (Storable, FreezeThaw, Data::Dumper text). Seeds are
 * images real Perl wrote (tests/fixtures/fuzz-corpus.ts, from tests/fixtures/fuzz-corpus.pl);
 * each input is a seed after 1-4 mutations: bit flips, byte sets, inserts and deletes,
 * length-field and count tweaks, splices from other seeds, repeated chunks, truncation. Each
 * input must:
 *
 * - decode, or throw an IkcError subclass (anything else is a failure);
 * - take at most `maxMs` (default 200 ms; a slow input is timed again before it counts);
 * - leave Object.prototype and Array.prototype as they were.
 *
 * A failure is printed with the input's hex and the command that regenerates it.
 *
 *   npm run fuzz -- --inputs 100000 [--seed 7] [--decoder storable|freezethaw|dumper] [--max-ms 200]
 *   node_modules/.bin/deno run -A scripts/fuzz.ts --inputs 10000
 *   node_modules/.bin/bun scripts/fuzz.ts --inputs 10000 --decoder dumper
 *   ... --seed 7 --decoder storable --index 1234     one input again, with its mutations listed
 *
 * @module
 */
import process from "node:process";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { IkcError } from "../src/core/errors.ts";
import { StorableDecoder, storableFreezer } from "../src/core/storable/mod.ts";
import { FreezeThawDecoder, freezeThawFreezer } from "../src/core/freezethaw.ts";
import { DumperDecoder, dumperFreezer } from "../src/core/dumper.ts";
import { fuzzCorpus } from "../tests/fixtures/fuzz-corpus.ts";

/**
 * The decoders the fuzzer knows.
 *
 * @example
 * ```ts
 * import { DECODER_NAMES } from "./fuzz.ts";
 * console.log(DECODER_NAMES); // ["storable", "freezethaw", "dumper"]
 * ```
 */
export const DECODER_NAMES = ["storable", "freezethaw", "dumper"] as const;

/**
 * One of {@link DECODER_NAMES}.
 *
 * @example
 * ```ts
 * import type { DecoderName } from "./fuzz.ts";
 * const d: DecoderName = "dumper";
 * ```
 */
export type DecoderName = (typeof DECODER_NAMES)[number];

/**
 * What {@link fuzz} does.
 *
 * @example
 * ```ts
 * import type { FuzzOptions } from "./fuzz.ts";
 * const o: FuzzOptions = { decoder: "storable", inputs: 1000, seed: 1 };
 * ```
 */
export interface FuzzOptions {
  decoder: DecoderName;
  /** How many inputs. */
  inputs: number;
  /** Seed of the run: input i of seed s is always the same bytes. */
  seed: number;
  /** Slowest acceptable decode of one input. Default 200. */
  maxMs?: number;
  /** Only this input (to reproduce a failure). */
  index?: number;
  /** Called for each failure as it happens. */
  onFailure?: (f: FuzzFailure) => void;
}

/**
 * One input that broke a rule.
 *
 * @example
 * ```ts
 * import type { FuzzFailure } from "./fuzz.ts";
 * const f: FuzzFailure = { decoder: "storable", index: 3, kind: "exception", message: "TypeError: x", ms: 0, hex: "050b", mutations: [] };
 * ```
 */
export interface FuzzFailure {
  decoder: DecoderName;
  index: number;
  kind: "exception" | "slow" | "pollution";
  message: string;
  ms: number;
  /** The input (the first 4 KiB when longer; the seed and index regenerate all of it). */
  hex: string;
  /** The seed image and the mutations applied, in order. */
  mutations: string[];
}

/**
 * The outcome of a {@link fuzz} run.
 *
 * @example
 * ```ts
 * import { fuzz } from "./fuzz.ts";
 * const r = fuzz({ decoder: "dumper", inputs: 100, seed: 1 });
 * console.log(r.failures.length, r.decoded + r.rejected); // 0 100
 * ```
 */
export interface FuzzResult {
  decoder: DecoderName;
  inputs: number;
  /** Inputs that decoded, and inputs refused with an IkcError. */
  decoded: number;
  rejected: number;
  ms: number;
  failures: FuzzFailure[];
}

/**
 * Deterministic PRNG (mulberry32): numbers in [0, 1).
 *
 * @example
 * ```ts
 * import { prng } from "./fuzz.ts";
 * const r = prng(1);
 * console.log(r(), r());
 * ```
 */
export function prng(seed: number): () => number {
  let s = seed | 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function fromHex(hex: string): Uint8Array {
  const out = new Uint8Array(hex.length >> 1);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.substr(i * 2, 2), 16);
  return out;
}

function toHex(b: Uint8Array, max = 4096): string {
  let s = "";
  const n = Math.min(b.length, max);
  for (let i = 0; i < n; i++) s += b[i].toString(16).padStart(2, "0");
  return b.length > max ? `${s}… (${b.length} bytes)` : s;
}

const seedCache = new Map<DecoderName, Array<{ name: string; bytes: Uint8Array }>>();

/**
 * The seed images of a decoder, from the committed corpus.
 *
 * @example
 * ```ts
 * import { seeds } from "./fuzz.ts";
 * console.log(seeds("freezethaw").map((s) => s.name));
 * ```
 */
export function seeds(decoder: DecoderName): ReadonlyArray<{ name: string; bytes: Uint8Array }> {
  let s = seedCache.get(decoder);
  if (s === undefined) {
    s = fuzzCorpus[decoder].map(([name, hex]) => ({ name, bytes: fromHex(hex) }));
    seedCache.set(decoder, s);
  }
  return s;
}

type Decode = (b: Uint8Array) => unknown;

/** The public entry points, with default and with other options (small limits too). */
function decodersOf(decoder: DecoderName): Decode[] {
  switch (decoder) {
    case "storable": {
      const a = new StorableDecoder({ bytes: "bytes", numericStrings: "number" });
      const b = new StorableDecoder({ bytes: "string", maxDepth: 8, maxElements: 64, maxStringLength: 32 });
      return [(x) => storableFreezer.thaw(x), (x) => a.decode(x), (x) => b.decode(x)];
    }
    case "freezethaw": {
      const a = new FreezeThawDecoder({ byteStrings: "latin1", numericStrings: "number", requireSignature: false });
      const b = new FreezeThawDecoder({ byteStrings: "bytes", maxDepth: 8, maxElements: 64, maxStringLength: 32 });
      return [(x) => freezeThawFreezer.thaw(x), (x) => a.decodeAll(x), (x) => b.decode(x)];
    }
    case "dumper": {
      const a = new DumperDecoder({ byteStrings: "utf8", numericStrings: "number" });
      const b = new DumperDecoder({ byteStrings: "latin1", maxDepth: 8, maxElements: 64, maxStringLength: 32 });
      return [(x) => dumperFreezer.thaw(x), (x) => a.decode(x), (x) => b.decode(x)];
    }
  }
}

const INTERESTING_BYTES = [
  0x00,
  0x01,
  0x02,
  0x03,
  0x04,
  0x05,
  0x0a,
  0x11,
  0x12,
  0x13,
  0x17,
  0x19,
  0x1d,
  0x20,
  0x21,
  0x7f,
  0x80,
  0x81,
  0xc3,
  0xed,
  0xfe,
  0xff,
];
const INTERESTING_U32 = [
  0,
  1,
  2,
  0x7f,
  0x80,
  0xff,
  0x100,
  0xffff,
  0x10000,
  0x7fffffff,
  0x80000000,
  0xfffffffe,
  0xffffffff,
];
const TOKENS: Record<DecoderName, string[]> = {
  storable: [],
  freezethaw: [
    "$",
    "@",
    "%",
    "\\",
    "_",
    "<",
    ">",
    ")",
    "{",
    "}",
    "!",
    "|",
    "/",
    "0|",
    "1|",
    "2|",
    "$0|",
    "$1|a",
    "@1|",
    "%2|",
    "<0|",
    ">0|$1|A",
    ")0|",
    "(?^i:",
    ")",
    "FrT;",
    "\\_",
  ],
  dumper: [
    "[",
    "]",
    "{",
    "}",
    "(",
    ")",
    ",",
    ";",
    "=>",
    "=",
    "\\",
    "'",
    '"',
    "undef",
    "do{my $o}",
    "bless( ",
    ", 'A' )",
    "qr/",
    "/i",
    "v1.2.3",
    "\\x{263a}",
    "\\N{U+E9}",
    "\\$",
    "\\@",
    "$",
    "->",
    "[0]",
    "{'a'}",
    "${",
    "-",
    "0",
    "99999999999999999999",
    "$POE::Component::IKC::Freezer::VAR1",
    "$POE::Component::IKC::Freezer::VAR1->[0] = $POE::Component::IKC::Freezer::VAR1;",
    "do{\\(my $o = ",
    'sub { "DUMMY" }',
    "\\*::GLOB",
    "'__proto__' => ",
    "\n",
    " ",
  ],
};

/** One input: a seed and 1-4 mutations, all drawn from `rnd`. */
function makeInput(decoder: DecoderName, rnd: () => number, log: string[]): Uint8Array {
  const pool = seeds(decoder);
  const int = (n: number) => Math.floor(rnd() * n);
  const pick = <T>(a: readonly T[]): T => a[int(a.length)];
  const seed = pick(pool);
  log.push(`seed ${seed.name}`);
  let b = seed.bytes;
  const text = decoder !== "storable";
  const rounds = rnd() < 0.5 ? 1 : 2 + int(3);
  for (let r = 0; r < rounds; r++) {
    const len = b.length;
    const at = int(len + 1);
    switch (int(text ? 11 : 10)) {
      case 0: { // bit flips
        const out = b.slice();
        const flips = 1 + int(4);
        for (let i = 0; i < flips && len > 0; i++) {
          const p = int(len);
          out[p] ^= 1 << int(8);
        }
        log.push(`flip ${flips} bits`);
        b = out;
        break;
      }
      case 1: { // set a byte
        if (len === 0) break;
        const out = b.slice();
        const p = int(len);
        out[p] = rnd() < 0.6 ? pick(INTERESTING_BYTES) : int(256);
        log.push(`set [${p}]=${out[p]}`);
        b = out;
        break;
      }
      case 2: { // insert bytes
        const n = 1 + int(rnd() < 0.8 ? 3 : 64);
        const ins = Uint8Array.from({ length: n }, () => (rnd() < 0.5 ? pick(INTERESTING_BYTES) : int(256)));
        b = concat(b.subarray(0, at), ins, b.subarray(at));
        log.push(`insert ${n} at ${at}`);
        break;
      }
      case 3: { // delete bytes
        const n = Math.min(len - Math.min(at, len), 1 + int(rnd() < 0.8 ? 2 : 32));
        b = concat(b.subarray(0, at), b.subarray(at + n));
        log.push(`delete ${n} at ${at}`);
        break;
      }
      case 4: { // a 4-byte length: big-endian (network) or little-endian (native)
        if (len < 4) break;
        const p = int(len - 3);
        const le = rnd() < 0.3;
        const old = le
          ? (b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24)) >>> 0
          : ((b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3]) >>> 0;
        const v = rnd() < 0.5 ? pick(INTERESTING_U32) : (old + (int(33) - 16)) >>> 0;
        const out = b.slice();
        for (let i = 0; i < 4; i++) out[p + i] = le ? (v >>> (8 * i)) & 255 : (v >>> (24 - 8 * i)) & 255;
        log.push(`u32${le ? "le" : "be"} [${p}] ${old} -> ${v}`);
        b = out;
        break;
      }
      case 5: { // a 1-byte length
        if (len === 0) break;
        const p = int(len);
        const out = b.slice();
        out[p] = rnd() < 0.5 ? pick([0, 1, 0x7f, 0x80, 0xff]) : (out[p] + int(5) - 2) & 255;
        log.push(`u8 [${p}] -> ${out[p]}`);
        b = out;
        break;
      }
      case 6: { // splice: a chunk of another seed in place of (or beside) a chunk of this one
        const other = pick(pool).bytes;
        const s = int(other.length + 1);
        const n = int(Math.min(other.length - s, 64) + 1);
        const del = rnd() < 0.5 ? Math.min(len - Math.min(at, len), int(16)) : 0;
        b = concat(b.subarray(0, at), other.subarray(s, s + n), b.subarray(at + del));
        log.push(`splice ${n} bytes at ${at} (replacing ${del})`);
        break;
      }
      case 7: { // repeat a chunk (nesting, long runs)
        const n = 1 + int(Math.min(Math.max(len - at, 0), 16));
        const roll = rnd();
        const times = 2 + int(roll < 0.9 ? 8 : roll < 0.99 ? 2000 : 30_000);
        const chunk = b.subarray(at, at + n);
        const reps = new Uint8Array(chunk.length * times);
        for (let i = 0; i < times; i++) reps.set(chunk, i * chunk.length);
        b = concat(b.subarray(0, at), reps, b.subarray(at));
        log.push(`repeat ${n} bytes at ${at} x${times}`);
        break;
      }
      case 8: { // truncate
        b = b.subarray(0, at);
        log.push(`truncate to ${at}`);
        break;
      }
      case 9: { // swap two chunks
        if (len < 2) break;
        const p = int(len - 1);
        const q = p + 1 + int(len - p - 1);
        const out = b.slice();
        const t = out[p];
        out[p] = out[q];
        out[q] = t;
        log.push(`swap [${p}] [${q}]`);
        b = out;
        break;
      }
      case 10: { // text: a token, or a decimal count changed
        const tok = pick(TOKENS[decoder]);
        const digits = findDigits(b, at);
        if (digits !== undefined && rnd() < 0.5) {
          const [s, e] = digits;
          const old = Number(new TextDecoder().decode(b.subarray(s, e)));
          const v = pick([
            0,
            1,
            old + 1,
            old - 1,
            old * 2,
            255,
            256,
            65536,
            999999999999999,
            Math.max(0, old + int(9) - 4),
          ]);
          b = concat(b.subarray(0, s), new TextEncoder().encode(String(Math.max(0, v))), b.subarray(e));
          log.push(`count [${s}] ${old} -> ${Math.max(0, v)}`);
        } else {
          b = concat(b.subarray(0, at), new TextEncoder().encode(tok), b.subarray(at));
          log.push(`token ${JSON.stringify(tok)} at ${at}`);
        }
        break;
      }
    }
  }
  return b;
}

/** The run of ASCII digits at or after `from`, if any. */
function findDigits(b: Uint8Array, from: number): [number, number] | undefined {
  let s = from;
  while (s < b.length && !(b[s] >= 0x30 && b[s] <= 0x39)) s++;
  if (s >= b.length) return undefined;
  let e = s;
  while (e < b.length && b[e] >= 0x30 && b[e] <= 0x39) e++;
  return [s, e];
}

function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** The input of index `i`, independent of the others: a failure reproduces from (seed, i) alone. */
function inputRng(seed: number, i: number): () => number {
  return prng(Math.imul(seed ^ 0x9e3779b9, 0x85ebca6b) ^ Math.imul(i + 1, 0xc2b2ae35));
}

/**
 * Input `index` of a run with `seed`: its bytes and how they were made (the seed image, then
 * each mutation). The same arguments always give the same input.
 *
 * @example
 * ```ts
 * import { fuzzInput } from "./fuzz.ts";
 * const { bytes, mutations } = fuzzInput("storable", 1, 1234);
 * console.log(mutations.join("; "), bytes.length);
 * ```
 */
export function fuzzInput(
  decoder: DecoderName,
  seed: number,
  index: number,
): { bytes: Uint8Array; mutations: string[] } {
  const mutations: string[] = [];
  return { bytes: makeInput(decoder, inputRng(seed, index), mutations), mutations };
}

function prototypeShape(): string {
  const keys = (o: object) => Reflect.ownKeys(o).map(String).sort().join(",");
  return `${keys(Object.prototype)}|${keys(Array.prototype)}`;
}

/** Cheap per-input check: pollution adds properties. The full shape is compared now and then. */
function prototypeCount(): number {
  return Reflect.ownKeys(Object.prototype).length * 1000 + Reflect.ownKeys(Array.prototype).length;
}

/**
 * Runs the fuzzer on one decoder; returns counts and every failure.
 *
 * @example
 * ```ts
 * import { fuzz } from "./fuzz.ts";
 * const r = fuzz({ decoder: "storable", inputs: 1000, seed: 42 });
 * if (r.failures.length) console.log(r.failures[0].hex);
 * ```
 */
export function fuzz(options: FuzzOptions): FuzzResult {
  const { decoder, seed } = options;
  const maxMs = options.maxMs ?? 200;
  const decoders = decodersOf(decoder);
  const shape = prototypeShape();
  const count = prototypeCount();
  const failures: FuzzFailure[] = [];
  let decoded = 0;
  let rejected = 0;
  let inputs = 0;
  const first = options.index ?? 0;
  const last = options.index !== undefined ? options.index + 1 : options.inputs;
  const started = performance.now();
  for (let i = first; i < last; i++) {
    const rnd = inputRng(seed, i);
    const log: string[] = [];
    const bytes = makeInput(decoder, rnd, log);
    const decode = decoders[i % decoders.length];
    inputs++;
    const fail = (kind: FuzzFailure["kind"], message: string, ms: number) => {
      const f: FuzzFailure = { decoder, index: i, kind, message, ms, hex: toHex(bytes), mutations: log };
      failures.push(f);
      options.onFailure?.(f);
    };
    const run = (): [number, unknown, boolean] => {
      const t0 = performance.now();
      try {
        decode(bytes);
        return [performance.now() - t0, undefined, false];
      } catch (e) {
        return [performance.now() - t0, e, true];
      }
    };
    let [ms, err, threw] = run();
    // A garbage collection can land on any input: only a second slow run counts.
    if (ms > maxMs) [ms, err, threw] = run();
    if (threw) {
      if (err instanceof IkcError) rejected++;
      else {fail(
          "exception",
          `${(err as Error)?.constructor?.name ?? typeof err}: ${(err as Error)?.message ?? String(err)}`,
          ms,
        );}
    } else {
      decoded++;
    }
    if (ms > maxMs) fail("slow", `took ${ms.toFixed(0)} ms (limit ${maxMs})`, ms);
    if (prototypeCount() !== count || ((i & 1023) === 0 || i === last - 1 ? prototypeShape() !== shape : false)) {
      fail("pollution", "Object.prototype or Array.prototype changed", ms);
      cleanPrototypes(shape);
    }
  }
  return { decoder, inputs, decoded, rejected, ms: performance.now() - started, failures };
}

function cleanPrototypes(shape: string): void {
  const [objectKeys, arrayKeys] = shape.split("|").map((s) => new Set(s.split(",")));
  for (const k of Reflect.ownKeys(Object.prototype)) {
    if (!objectKeys.has(String(k))) delete (Object.prototype as Record<PropertyKey, unknown>)[k];
  }
  for (const k of Reflect.ownKeys(Array.prototype)) {
    if (!arrayKeys.has(String(k))) delete (Array.prototype as unknown as Record<PropertyKey, unknown>)[k];
  }
}

/**
 * The closing line for a result: `fuzz: <decoder> <N> inputs, <rate> inputs/s, <F> failures`.
 *
 * @example
 * ```ts
 * import { fuzz, summaryLine } from "./fuzz.ts";
 * console.log(summaryLine(fuzz({ decoder: "dumper", inputs: 100, seed: 1 })));
 * ```
 */
export function summaryLine(
  r: { decoder: string; inputs: number; ms: number; failures: number | readonly unknown[] },
): string {
  const rate = r.ms > 0 ? Math.round((r.inputs * 1000) / r.ms) : r.inputs;
  const failures = typeof r.failures === "number" ? r.failures : r.failures.length;
  return `fuzz: ${r.decoder} ${r.inputs} inputs, ${rate} inputs/s, ${failures} failures`;
}

/**
 * The command line: parses `argv` (without the runtime and script), runs, prints, and returns
 * the exit status (1 when anything failed).
 *
 * @example
 * ```ts
 * import { main } from "./fuzz.ts";
 * const status = main(["--inputs", "1000", "--decoder", "storable", "--seed", "3"]);
 * ```
 */
export function main(argv: readonly string[]): number {
  let inputs = 10_000;
  let seed = 1;
  let maxMs = 200;
  let index: number | undefined;
  const chosen: DecoderName[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new TypeError(`${a} needs a value`);
      return v;
    };
    const num = () => {
      const v = Number(value());
      if (!Number.isFinite(v) || v < 0) throw new TypeError(`${a} needs a number >= 0`);
      return Math.floor(v);
    };
    if (a === "--inputs") inputs = num();
    else if (a === "--seed") seed = num();
    else if (a === "--max-ms") maxMs = num();
    else if (a === "--index") index = num();
    else if (a === "--decoder") {
      const d = value();
      if (!(DECODER_NAMES as readonly string[]).includes(d)) {
        throw new TypeError(`unknown decoder ${d} (storable, freezethaw, dumper)`);
      }
      chosen.push(d as DecoderName);
    } else if (a === "--help" || a === "-h") {
      console.log(
        "usage: fuzz [--inputs N] [--seed S] [--decoder storable|freezethaw|dumper]... [--max-ms MS] [--index I]",
      );
      return 0;
    } else {
      throw new TypeError(`unknown argument ${a}`);
    }
  }
  const decoders = chosen.length > 0 ? chosen : [...DECODER_NAMES];
  console.log(
    `fuzz: seed ${seed}, ${
      index !== undefined ? `input ${index}` : `${inputs} inputs per decoder`
    }, max ${maxMs} ms per input`,
  );
  let total = 0;
  let totalMs = 0;
  let totalFailures = 0;
  for (const decoder of decoders) {
    let shown = 0;
    const r = fuzz({
      decoder,
      inputs,
      seed,
      maxMs,
      index,
      onFailure: (f) => {
        if (shown++ >= 20) return;
        console.log(`FAIL ${f.decoder} #${f.index} ${f.kind}: ${f.message}`);
        console.log(`  mutations: ${f.mutations.join("; ")}`);
        console.log(`  input: ${f.hex}`);
        console.log(`  again: --seed ${seed} --decoder ${f.decoder} --index ${f.index}`);
      },
    });
    if (index !== undefined && r.failures.length === 0) {
      const { bytes, mutations } = fuzzInput(decoder, seed, index);
      console.log(`input ${index}: ${mutations.join("; ")}\n  ${toHex(bytes)}`);
    }
    console.log(summaryLine(r));
    total += r.inputs;
    totalMs += r.ms;
    totalFailures += r.failures.length;
  }
  console.log(summaryLine({ decoder: "total", inputs: total, ms: totalMs, failures: totalFailures }));
  return totalFailures > 0 ? 1 : 0;
}

const isMain = (import.meta as { main?: boolean }).main ??
  (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url));
if (isMain) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (e) {
    console.error(`fuzz: ${(e as Error).message}`);
    process.exitCode = 2;
  }
}
