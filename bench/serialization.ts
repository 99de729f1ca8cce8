/**
 * Serialization benchmark: our Storable `nfreeze` / `thaw` beside msgpackr, JSON and Perl's own
 * XS Storable (timed in its own process by bench/storable.pl) on the payloads of issue 4.
 *
 *   node_modules/.bin/deno run -A bench/serialization.ts | node_modules/.bin/bun bench/serialization.ts
 *   node dist/bench/serialization.js
 *
 * BENCH_PERL_JSON=<file> reuses Perl timings measured earlier (bench-all.sh measures them once).
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isNativeAccelerationEnabled, pack, unpack } from "msgpackr";
import { nfreeze, thaw } from "../src/core/storable/mod.ts";
import type { PerlValue } from "../src/core/perl.ts";
import { allPayloads } from "./payloads.ts";
import {
  env,
  fmtInt,
  fmtMean,
  fmtRate,
  fmtRatio,
  fmtTime,
  interleaved,
  keep,
  mdTable,
  measure,
  type Measured,
  quick,
  record,
  repoRoot,
  runtimeLabel,
} from "./common.ts";

interface PerlTiming {
  median_ns: number;
  mean_ns: number;
  samples: number;
  calls: number;
}
interface PerlResults {
  perl: string;
  storable: string;
  results: Record<string, { bytes: number; nfreeze: PerlTiming; thaw: PerlTiming }>;
}

function perl(args: string[]): string {
  const r = spawnSync("perl", [join(repoRoot, "bench", "storable.pl"), ...args], {
    encoding: "utf8",
    maxBuffer: 1 << 26,
  });
  if (r.status !== 0) throw new Error(`bench/storable.pl failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

function perlTimings(): PerlResults | undefined {
  const file = env("BENCH_PERL_JSON");
  try {
    if (file) return JSON.parse(readFileSync(file, "utf8")) as PerlResults;
    return JSON.parse(perl(["--time", quick ? "0.2" : "0.6"])) as PerlResults;
  } catch (e) {
    console.log(`(Perl XS Storable baseline unavailable: ${(e as Error).message})\n`);
    return undefined;
  }
}

function perlImages(): Map<string, Uint8Array> {
  const dir = mkdtempSync(join(tmpdir(), "ikc-bench-"));
  try {
    perl(["--write", dir]);
    const out = new Map<string, Uint8Array>();
    for (const p of allPayloads()) out.set(p.name, new Uint8Array(readFileSync(join(dir, `${p.name}.storable`))));
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** Perl ns/op as ms, or NaN when absent. */
function perlMs(t: PerlTiming | undefined): number {
  return t ? t.median_ns / 1e6 : NaN;
}

function fmtPerl(t: PerlTiming | undefined): string {
  if (!t) return "n/a";
  const ms = t.median_ns / 1e6;
  return ms < 1 ? `${(ms * 1e3).toFixed(ms < 0.1 ? 1 : 0)} µs` : `${ms.toFixed(2)} ms`;
}

async function main(): Promise<void> {
  console.log(`## Serialization — ${runtimeLabel()}\n`);
  console.log(
    `msgpackr native string extension (msgpackr-extract): ${
      isNativeAccelerationEnabled ? "active" : "not active (pure JS)"
    }\n`,
  );
  const payloads = allPayloads();
  const perlBytes = perlImages();
  const perlRes = perlTimings();

  const enc = new TextEncoder();
  const tasks = [];
  const sizes = new Map<string, { ours: number; perl: number; msgpack: number; json: number }>();
  const perlThawed = new Map<string, PerlValue>();
  const images = new Map<string, { ours: Uint8Array; mp: Uint8Array }>();
  for (const p of payloads) {
    const v = p.value as PerlValue;
    const ours = nfreeze(v).slice();
    const mp = pack(v);
    const js = JSON.stringify(v);
    const pb = perlBytes.get(p.name)!;
    // The same data must come back, or the timings compare different work.
    // (Network order stores doubles as strings: compare with numericStrings "number".)
    if (!same(thaw(ours, { numericStrings: "number" }), v)) {
      throw new Error(`${p.name}: thaw(nfreeze(v)) differs from v`);
    }
    if (!same(unpack(mp), v)) throw new Error(`${p.name}: msgpackr round trip differs`);
    perlThawed.set(p.name, thaw(pb));
    images.set(p.name, { ours, mp });
    sizes.set(p.name, {
      ours: ours.byteLength,
      perl: pb.byteLength,
      msgpack: mp.byteLength,
      json: enc.encode(js).byteLength,
    });
    tasks.push(
      { name: `${p.name} nfreeze`, fn: () => keep(nfreeze(v)) },
      { name: `${p.name} thaw`, fn: () => keep(thaw(ours)) },
      { name: `${p.name} thaw perl`, fn: () => keep(thaw(pb)) },
      { name: `${p.name} pack`, fn: () => keep(pack(v)) },
      { name: `${p.name} unpack`, fn: () => keep(unpack(mp)) },
      { name: `${p.name} stringify`, fn: () => keep(JSON.stringify(v)) },
      { name: `${p.name} parse`, fn: () => keep(JSON.parse(js)) },
    );
  }
  // The headline: each of ours against msgpackr in interleaved rounds (ours, msgpackr, msgpackr,
  // ours, ...), so both run under the same machine state; tinybench's separate runs follow.
  const rounds = new Map<string, { freeze: ReturnType<typeof interleaved>; thaw: ReturnType<typeof interleaved> }>();
  for (const p of payloads) {
    const v = p.value as PerlValue;
    const { ours, mp } = images.get(p.name)!;
    rounds.set(p.name, {
      freeze: interleaved(() => nfreeze(v), () => pack(v)),
      thaw: interleaved(() => thaw(ours), () => unpack(mp)),
    });
  }
  console.log(
    "### Headline: median ratio of interleaved rounds (time ours / msgpackr; below 1.00x ours is faster)\n",
  );
  const range = (x: ReturnType<typeof interleaved>) => `${fmtRatio(x.min)} – ${fmtRatio(x.max)}`;
  console.log(
    mdTable(
      [
        "payload",
        "nfreeze / pack",
        "range",
        "nfreeze, pack",
        "thaw / unpack",
        "range",
        "thaw, unpack",
        "nfreeze / Perl XS",
        "thaw / Perl XS",
      ],
      payloads.map((p) => {
        const x = rounds.get(p.name)!;
        const pr = perlRes?.results[p.name];
        return [
          p.label,
          fmtRatio(x.freeze.ratio),
          range(x.freeze),
          `${fmtTime(x.freeze.aMs)}, ${fmtTime(x.freeze.bMs)}`,
          fmtRatio(x.thaw.ratio),
          range(x.thaw),
          `${fmtTime(x.thaw.aMs)}, ${fmtTime(x.thaw.bMs)}`,
          fmtRatio(x.freeze.aMs / perlMs(pr?.nfreeze)),
          fmtRatio(x.thaw.aMs / perlMs(pr?.thaw)),
        ];
      }),
    ),
  );
  console.log(
    `\n${rounds.get(payloads[0].name)!.freeze.rounds} rounds per pair, each a batch of about 60 ms. ` +
      "Perl XS: its own process's median (bench/storable.pl), against our median round.\n",
  );

  const r = await measure(tasks, { timeMs: Number(env("BENCH_TIME") ?? (quick ? 150 : 500)) });
  const get = (n: string): Measured => r.get(n)!;

  console.log(
    "### Encode (time per operation, mean ±95% margin; ratios are time ours / theirs, below 1 = ours faster)\n",
  );
  console.log(
    mdTable(
      [
        "payload",
        "nfreeze (ours)",
        "ops/s",
        "msgpackr pack",
        "JSON.stringify",
        "Perl XS nfreeze",
        "ours/msgpackr",
        "ours/JSON",
        "ours/Perl XS",
      ],
      payloads.map((p) => {
        const o = get(`${p.name} nfreeze`);
        const m = get(`${p.name} pack`);
        const j = get(`${p.name} stringify`);
        const pt = perlRes?.results[p.name]?.nfreeze;
        return [
          p.label,
          fmtMean(o),
          fmtRate(o.opsPerSec),
          fmtMean(m),
          fmtMean(j),
          fmtPerl(pt),
          fmtRatio(o.meanMs / m.meanMs),
          fmtRatio(o.meanMs / j.meanMs),
          fmtRatio(o.meanMs / perlMs(pt)),
        ];
      }),
    ),
  );

  console.log("\n### Decode\n");
  console.log(
    mdTable(
      [
        "payload",
        "thaw (ours, own bytes)",
        "ops/s",
        "thaw (ours, Perl's bytes)",
        "msgpackr unpack",
        "JSON.parse",
        "Perl XS thaw",
        "ours/msgpackr",
        "ours/JSON",
        "ours/Perl XS",
      ],
      payloads.map((p) => {
        const o = get(`${p.name} thaw`);
        const op = get(`${p.name} thaw perl`);
        const m = get(`${p.name} unpack`);
        const j = get(`${p.name} parse`);
        const pt = perlRes?.results[p.name]?.thaw;
        return [
          p.label,
          fmtMean(o),
          fmtRate(o.opsPerSec),
          fmtMean(op),
          fmtMean(m),
          fmtMean(j),
          fmtPerl(pt),
          fmtRatio(o.meanMs / m.meanMs),
          fmtRatio(o.meanMs / j.meanMs),
          fmtRatio(o.meanMs / perlMs(pt)),
        ];
      }),
    ),
  );

  console.log("\n### Encoded sizes (bytes)\n");
  console.log(
    mdTable(
      ["payload", "nfreeze (ours)", "nfreeze (Perl)", "msgpack", "JSON (UTF-8)"],
      payloads.map((p) => {
        const s = sizes.get(p.name)!;
        return [p.label, fmtInt(s.ours), fmtInt(s.perl), fmtInt(s.msgpack), fmtInt(s.json)];
      }),
    ),
  );
  const ownRow = (thaw(nfreeze(payloads[0].value as PerlValue)) as { rows: Array<Record<string, unknown>> }).rows[3];
  const row = (perlThawed.get("rows1k") as { rows: Array<Record<string, unknown>> }).rows[3];
  console.log(
    `\nNetwork-order Storable has no double: the non-integer \`score\` (i*1.5) travels as a string both in ` +
      `Perl's image and in ours, so thaw (default options) returns it as a string where msgpackr and JSON give a ` +
      `number. Row 3 thawed from our image: ${JSON.stringify(ownRow)}; from Perl's: ${JSON.stringify(row)}. ` +
      `Perl's image differs in hash key order (Perl's hash order) and in how Perl typed each scalar.`,
  );
  if (perlRes) {
    console.log(`Perl XS baseline: perl ${perlRes.perl}, Storable ${perlRes.storable}, median of in-process batches.`);
  }
  console.log();

  record("serialization", {
    nativeMsgpackr: isNativeAccelerationEnabled,
    rounds: Object.fromEntries(rounds),
    js: Object.fromEntries(r),
    perl: perlRes ?? null,
    sizes: Object.fromEntries(sizes),
  });
}

await main();
