/**
 * Shared pieces of the benchmarks: runtime facts, a tinybench wrapper, number formatting,
 * markdown tables and the JSON record each section leaves for bench/summary.ts.
 *
 * Runs unchanged on Deno, Bun and Node (compiled to dist/bench by tsc); node: builtins only.
 *
 * @module
 */
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Bench } from "tinybench";

type G = {
  Deno?: { version: { deno: string; v8: string }; cpuUsage?: () => { user: number; system: number } };
  Bun?: { version: string };
  process?: {
    version: string;
    versions: Record<string, string>;
    cpuUsage?: () => { user: number; system: number };
    env: Record<string, string | undefined>;
    argv: string[];
  };
};
const g = globalThis as unknown as G;

/** Which runtime runs this file. */
export const runtime: "deno" | "bun" | "node" = g.Deno ? "deno" : g.Bun ? "bun" : "node";

/** Runtime name and version, e.g. `node 20.20.2 (V8 11.3)`. */
export function runtimeLabel(): string {
  if (g.Deno) return `deno ${g.Deno.version.deno} (V8 ${g.Deno.version.v8})`;
  if (g.Bun) return `bun ${g.Bun.version} (JavaScriptCore)`;
  return `node ${g.process!.version.slice(1)} (V8 ${g.process!.versions.v8})`;
}

/** Repository root: the nearest folder above this file holding package.json and bench/. */
export const repoRoot: string = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    if (existsSync(join(dir, "package.json")) && existsSync(join(dir, "bench"))) return dir;
    dir = dirname(dir);
  }
  throw new Error("repository root not found");
})();

/** An environment variable (process.env exists on all three runtimes). */
export function env(name: string): string | undefined {
  return g.process?.env[name];
}

/** Quick mode (BENCH_QUICK=1): shorter time budgets, for smoke runs. */
export const quick: boolean = env("BENCH_QUICK") === "1";

/** Process CPU time (user + system) in microseconds. */
export function cpuMicros(): number {
  const u = g.process?.cpuUsage?.() ?? g.Deno?.cpuUsage?.();
  return u ? u.user + u.system : NaN;
}

/** One measured task. Times in milliseconds per operation. */
export interface Measured {
  name: string;
  meanMs: number;
  p50Ms: number;
  /** Relative margin of error of the mean, in percent (95%). */
  rme: number;
  samples: number;
  opsPerSec: number;
}

/** A task for {@link measure}. */
export interface Task {
  name: string;
  fn: () => unknown;
}

/**
 * Runs the tasks one after another under tinybench (warm-up, then a time budget per task) and
 * returns their statistics by name. `timeMs` defaults to BENCH_TIME or 400 (100 in quick mode).
 */
export async function measure(
  tasks: Task[],
  opts: { timeMs?: number; warmupMs?: number; iterations?: number } = {},
): Promise<Map<string, Measured>> {
  const time = opts.timeMs ?? Number(env("BENCH_TIME") ?? (quick ? 100 : 400));
  const bench = new Bench({
    time,
    warmupTime: opts.warmupMs ?? Math.max(50, time / 4),
    iterations: opts.iterations ?? 8,
    warmupIterations: 4,
    throws: true,
  });
  for (const t of tasks) bench.add(t.name, t.fn);
  await bench.run();
  const out = new Map<string, Measured>();
  for (const task of bench.tasks) {
    const r = task.result;
    if (r.state !== "completed") throw new Error(`task ${task.name}: ${r.state}`);
    const lat = r.latency;
    out.set(task.name, {
      name: task.name,
      meanMs: lat.mean,
      p50Ms: lat.p50,
      rme: lat.rme,
      samples: lat.samplesCount,
      opsPerSec: 1000 / lat.mean,
    });
  }
  return out;
}

/** Duration in ms as a short human string: `812 ns`, `12.3 µs`, `4.56 ms`, `1.23 s`. */
export function fmtTime(ms: number): string {
  if (!Number.isFinite(ms)) return "n/a";
  if (ms < 0.001) return `${(ms * 1e6).toFixed(0)} ns`;
  if (ms < 1) return `${sig(ms * 1e3)} µs`;
  if (ms < 1000) return `${sig(ms)} ms`;
  return `${sig(ms / 1000)} s`;
}

function sig(x: number): string {
  return x >= 100 ? x.toFixed(0) : x >= 10 ? x.toFixed(1) : x.toFixed(2);
}

/** A count with thousands separators, e.g. `12,345`. */
export function fmtInt(n: number): string {
  if (!Number.isFinite(n)) return "n/a";
  return Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** A rate with 3 significant digits and a unit prefix: `1.23 M`, `456 k`. */
export function fmtRate(n: number): string {
  if (!Number.isFinite(n)) return "n/a";
  if (n >= 1e9) return `${sig(n / 1e9)} G`;
  if (n >= 1e6) return `${sig(n / 1e6)} M`;
  if (n >= 1e3) return `${sig(n / 1e3)} k`;
  return sig(n);
}

/** A time ratio ours/theirs: `0.85x` (below 1 means ours is faster). */
export function fmtRatio(x: number): string {
  return Number.isFinite(x) ? `${x.toFixed(2)}x` : "n/a";
}

/** Mean with its relative margin of error: `512 µs ±1.2%`. */
export function fmtMean(m: Measured | undefined): string {
  return m ? `${fmtTime(m.meanMs)} ±${m.rme.toFixed(1)}%` : "n/a";
}

/** A markdown table (GitHub flavour); the first column is left aligned, the others right. */
export function mdTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    "| " + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join(" | ") + " |";
  const rule = "| " + widths.map((w, i) => (i === 0 ? "-".repeat(w) : "-".repeat(w - 1) + ":")).join(" | ") + " |";
  return [line(headers), rule, ...rows.map((r) => line(r))].join("\n");
}

/** Writes this section's raw figures to .tmp/bench/<section>-<runtime>.json for bench/summary.ts. */
export function record(section: string, data: unknown): void {
  const dir = join(repoRoot, ".tmp", "bench");
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${section}-${runtime}.json`), JSON.stringify({ runtime: runtimeLabel(), data }, null, 1));
}

/** Keeps results alive so the optimiser cannot drop the work that made them. */
export let sink: unknown;
/** Stores a value in {@link sink}. */
export function keep(v: unknown): void {
  sink = v;
}

/** What {@link interleaved} found for one pair of tasks. */
export interface RoundsResult {
  /** Median over rounds of (A's time per op / B's time per op): below 1, A is faster. */
  ratio: number;
  /** The lowest and highest per-round ratio. */
  min: number;
  max: number;
  /** Median time per op of each, in ms. */
  aMs: number;
  bMs: number;
  rounds: number;
}

/** The median of the figures that are numbers (NaN, a figure not measured, is left out); NaN when none are. */
export function median(xs: number[]): number {
  const s = xs.filter((x) => !Number.isNaN(x)).sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Times A and B in alternating batches (A, B, A, B, ...; the order flips every round so neither
 * always runs second) and reports the median of the per-round ratios. Interleaving puts both under
 * the same machine state (frequency, other load, GC pressure) round by round, which two separate
 * timed runs on a noisy two-core machine do not. Each batch runs `opsPerBatch` operations, sized
 * after a warm-up so a batch of A takes about `batchMs`.
 */
export function interleaved(
  a: () => unknown,
  b: () => unknown,
  opts: { rounds?: number; batchMs?: number } = {},
): RoundsResult {
  const rounds = opts.rounds ?? (quick ? 7 : 21);
  const batchMs = opts.batchMs ?? (quick ? 20 : 60);
  // Warm both up (JIT tiers), and size the batch.
  let n = 1;
  for (;;) {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) keep(a());
    for (let i = 0; i < n; i++) keep(b());
    const dt = performance.now() - t0;
    if (dt > batchMs || n > 1 << 24) {
      n = Math.max(1, Math.round((n * batchMs) / Math.max(dt / 2, 1e-3)));
      break;
    }
    n *= 2;
  }
  const time = (f: () => unknown): number => {
    const t0 = performance.now();
    for (let i = 0; i < n; i++) keep(f());
    return (performance.now() - t0) / n;
  };
  const ratios: number[] = [];
  const as: number[] = [];
  const bs: number[] = [];
  for (let r = 0; r < rounds; r++) {
    let ta: number, tb: number;
    if (r % 2 === 0) {
      ta = time(a);
      tb = time(b);
    } else {
      tb = time(b);
      ta = time(a);
    }
    as.push(ta);
    bs.push(tb);
    ratios.push(ta / tb);
  }
  return {
    ratio: median(ratios),
    min: Math.min(...ratios),
    max: Math.max(...ratios),
    aMs: median(as),
    bMs: median(bs),
    rounds,
  };
}

export { concat } from "../tests/helpers/bytes.ts";
