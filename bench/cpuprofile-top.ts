/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`): self time per function and the hottest
 * source lines, so profiling results can be quoted in an issue.
 *
 *   node dist/bench/cpuprofile-top.js <file.cpuprofile> [count]
 *
 * @module
 */
import { readFileSync } from "node:fs";

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
  positionTicks?: Array<{ line: number; ticks: number }>;
}
interface Profile {
  nodes: Node[];
  startTime: number;
  endTime: number;
  samples: number[];
}

const g = globalThis as unknown as { process: { argv: string[] } };
const [file, countArg = "25"] = g.process.argv.slice(2);
if (!file) throw new Error("usage: cpuprofile-top <file.cpuprofile> [count]");
const prof = JSON.parse(readFileSync(file, "utf8")) as Profile;
const count = Number(countArg);
const total = prof.samples.length;

const short = (url: string) => url.replace(/^file:\/\//, "").replace(/^.*\/(dist|src|bench|node_modules)\//, "$1/");
const byFn = new Map<string, number>();
const byLine = new Map<string, number>();
for (const n of prof.nodes) {
  const hits = n.hitCount ?? 0;
  if (!hits) continue;
  const cf = n.callFrame;
  const where = cf.url ? `${short(cf.url)}:${cf.lineNumber + 1}` : "(native)";
  const key = `${cf.functionName || "(anonymous)"}  ${where}`;
  byFn.set(key, (byFn.get(key) ?? 0) + hits);
  for (const t of n.positionTicks ?? []) {
    const lk = `${cf.url ? short(cf.url) : "?"}:${t.line}  (${cf.functionName || "anonymous"})`;
    byLine.set(lk, (byLine.get(lk) ?? 0) + t.ticks);
  }
}
const pct = (h: number) => `${((100 * h) / total).toFixed(1).padStart(5)}%`;
console.log(`${total} samples over ${((prof.endTime - prof.startTime) / 1e6).toFixed(2)} s\n`);
console.log("self time by function:");
for (const [k, h] of [...byFn].sort((a, b) => b[1] - a[1]).slice(0, count)) console.log(`  ${pct(h)}  ${k}`);
console.log("\nhottest lines:");
for (const [k, h] of [...byLine].sort((a, b) => b[1] - a[1]).slice(0, count)) console.log(`  ${pct(h)}  ${k}`);
