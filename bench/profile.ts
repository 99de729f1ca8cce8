/**
 * A profiling target: runs one codec operation on one payload in a loop for a few seconds, so a
 * profiler sees nothing else. Then bench/cpuprofile-top.ts lists where the time went.
 *
 *   node --cpu-prof --cpu-prof-dir=.tmp/prof dist/bench/profile.js thaw rows1k 5
 *   node dist/bench/cpuprofile-top.js .tmp/prof/<file>.cpuprofile
 *   (bun and deno: `deno run -A --v8-flags=--prof bench/profile.ts ...`, then `node --prof-process`)
 *
 * Operations: nfreeze, thaw (our own image), thaw-perl (Perl's image), pack, unpack.
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pack, unpack } from "msgpackr";
import { nfreeze, thaw } from "../src/core/storable/mod.ts";
import type { PerlValue } from "../src/core/perl.ts";
import { allPayloads } from "./payloads.ts";
import { keep, repoRoot } from "./common.ts";

const g = globalThis as unknown as { process: { argv: string[] } };
const [op = "thaw", name = "rows1k", secs = "5"] = g.process.argv.slice(2);
const p = allPayloads().find((x) => x.name === name);
if (!p) throw new Error(`unknown payload ${name}`);
const v = p.value as PerlValue;

function perlImage(): Uint8Array {
  const dir = mkdtempSync(join(tmpdir(), "ikc-prof-"));
  try {
    const r = spawnSync("perl", [join(repoRoot, "bench", "storable.pl"), "--write", dir, "--only", name]);
    if (r.status !== 0) throw new Error(`bench/storable.pl failed: ${r.stderr}`);
    return new Uint8Array(readFileSync(join(dir, `${name}.storable`)));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const ours = nfreeze(v).slice();
const mp = pack(v);
const fns: Record<string, () => unknown> = {
  nfreeze: () => nfreeze(v),
  thaw: () => thaw(ours),
  "thaw-perl": (() => {
    const pb = perlImage();
    return () => thaw(pb);
  })(),
  pack: () => pack(v),
  unpack: () => unpack(mp),
};
const fn = fns[op];
if (!fn) throw new Error(`unknown operation ${op} (${Object.keys(fns).join(", ")})`);
const end = performance.now() + Number(secs) * 1000;
let n = 0;
const t0 = performance.now();
while (performance.now() < end) {
  for (let i = 0; i < 20; i++) keep(fn());
  n += 20;
}
console.log(`${op} ${name}: ${n} calls, ${(((performance.now() - t0) * 1000) / n).toFixed(1)} µs/call`);
