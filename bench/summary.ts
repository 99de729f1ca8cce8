/**
 * Reads the figures the sections left in .tmp/bench/ and prints them against the targets of
 * issue 4 (frame reader, pipelining), issue 7 (server) and issue 10 (codec against msgpackr and
 * Perl XS in interleaved rounds, client against ClientLite, server throughput), one column per
 * runtime. Run by scripts/bench-all.sh after the sections.
 *
 * @module
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fmtInt, fmtRatio, mdTable, repoRoot } from "./common.ts";

const RUNTIMES = ["deno", "bun", "node"] as const;
const dir = join(repoRoot, ".tmp", "bench");

// deno-lint-ignore no-explicit-any
type Rec = { runtime: string; data: Record<string, any> };

function load(section: string, rt: string): Rec | undefined {
  const f = join(dir, `${section}-${rt}.json`);
  return existsSync(f) ? (JSON.parse(readFileSync(f, "utf8")) as Rec) : undefined;
}

interface Target {
  name: string;
  goal: string;
  /**
   * Figure per runtime (or undefined when not measured) and whether it meets the goal; `plain`
   * figures have no goal of their own (they put a target's figure in context) and say neither.
   */
  value(rt: string): { text: string; ok: boolean; plain?: boolean } | undefined;
}

const ser = (rt: string) => load("serialization", rt)?.data;
const frame = (rt: string) => load("frame", rt)?.data;
const e2e = (rt: string) => load("e2e", rt)?.data;
const server = (rt: string) => load("server", rt)?.data;
const client = (rt: string) => load("client", rt)?.data;

/** The server section's figures for `n` clients with `inFlight` calls each (W when omitted). */
function serverRow(rt: string, n: number, inFlight?: number) {
  const d = server(rt);
  return d?.configs?.[`${n}x${inFlight ?? d.inFlight}`] as
    | {
      inFlight: number;
      ratio?: number;
      ours?: { callsPerSec: number; p99Ms: number };
      perl?: { callsPerSec: number };
    }
    | undefined;
}

/** The server section's saturated run (bare load generator): ours against `other`. */
function saturatedVs(rt: string, other: "genuine" | "perl", isTarget: boolean) {
  const sat = server(rt)?.saturated as
    | {
      sides: Record<string, { callsPerSec: number } | undefined>;
      ratios: Record<string, { median: number } | undefined>;
    }
    | undefined;
  const ratio = sat?.ratios[other]?.median;
  if (ratio === undefined) return undefined;
  const text = `${fmtRatio(ratio)} (${fmtInt(sat!.sides.ours!.callsPerSec)} vs ${
    fmtInt(sat!.sides[other]!.callsPerSec)
  }/s)`;
  return isTarget ? { text, ok: ratio >= 10 } : { text, ok: true, plain: true };
}

const ms = (x: number) => (x < 1 ? `${(x * 1000).toFixed(0)} µs` : `${x.toFixed(2)} ms`);

/** Interleaved rounds, ours against msgpackr: the median per-round ratio. */
function vsMsgpackr(payload: string, op: "freeze" | "thaw") {
  return (rt: string) => {
    const x = ser(rt)?.rounds?.[payload]?.[op];
    return x ? { text: fmtRatio(x.ratio), ok: x.ratio <= 1 } : undefined;
  };
}

/** Our median round time against Perl XS Storable's median (its own process). */
function vsPerl(payload: string, op: "freeze" | "thaw") {
  return (rt: string) => {
    const d = ser(rt);
    const x = d?.rounds?.[payload]?.[op];
    const p = d?.perl?.results?.[payload]?.[op === "freeze" ? "nfreeze" : "thaw"];
    if (!x || !p) return undefined;
    const r = x.aMs / (p.median_ns / 1e6);
    return { text: fmtRatio(r), ok: r < 1 };
  };
}

const PAYLOADS = [["rows1k", "1,000 rows"], ["rows10k", "10,000 rows"], ["strings", "strings-heavy"], [
  "nested",
  "nested",
]];

const targets: Target[] = [
  ...PAYLOADS.slice(0, 2).flatMap(([p, label]) => [
    {
      name: `nfreeze, ${label}: time vs msgpackr pack (interleaved)`,
      goal: "<= 1.00x",
      value: vsMsgpackr(p, "freeze"),
    },
    { name: `thaw, ${label}: time vs msgpackr unpack (interleaved)`, goal: "<= 1.00x", value: vsMsgpackr(p, "thaw") },
  ]),
  ...PAYLOADS.flatMap(([p, label]) => [
    { name: `nfreeze, ${label}: time vs Perl XS nfreeze`, goal: "< 1.00x", value: vsPerl(p, "freeze") },
    { name: `thaw, ${label}: time vs Perl XS thaw`, goal: "< 1.00x", value: vsPerl(p, "thaw") },
  ]),
  {
    name: "sequential call: time vs Perl ClientLite, same server (interleaved)",
    goal: "<= 0.90x",
    value: (rt) => {
      const d = client(rt);
      return d
        ? { text: `${fmtRatio(d.callRatio)}${d.genuine ? "" : " (bundled peer, not genuine)"}`, ok: d.callRatio <= 0.9 }
        : undefined;
    },
  },
  {
    name: "awaited post: rate vs Perl ClientLite, same server (interleaved)",
    goal: ">= 1.50x",
    value: (rt) => {
      const d = client(rt);
      return d
        ? { text: `${fmtRatio(d.postRatio)}${d.genuine ? "" : " (bundled peer, not genuine)"}`, ok: d.postRatio >= 1.5 }
        : undefined;
    },
  },
  {
    name: "frame reader, 1 MiB frames in 64 KiB blocks",
    goal: ">= 1,000 MB/s",
    value: (rt) => {
      const d = frame(rt)?.["large 65536"];
      return d ? { text: `${fmtInt(d.mbPerSec)} MB/s`, ok: d.mbPerSec >= 1000 } : undefined;
    },
  },
  {
    name: "frame reader linearity: ns/byte at 4N over ns/byte at N (16 B blocks, N = 1 MiB)",
    goal: "<= 1.25",
    value: (rt) => {
      const d = frame(rt)?.["linearity FrameReader, 16 B blocks"];
      if (!d) return undefined;
      const r = (d.ms[2] / d.sizes[2]) / (d.ms[0] / d.sizes[0]);
      return { text: r.toFixed(2), ok: r <= 1.25 };
    },
  },
  ...["small hash (1 row)", "100 rows"].map((p) => ({
    name: `pipelined 256 vs sequential, ${p} echo`,
    goal: ">= 3.00x",
    value: (rt: string) => {
      const d = e2e(rt);
      const seq = d?.[`${p} / sequential`];
      const pip = d?.[`${p} / pipelined, 256 in flight`];
      if (!seq || !pip) return undefined;
      const r = pip.callsPerSec / seq.callsPerSec;
      return {
        text: `${fmtRatio(r)} (${fmtInt(seq.callsPerSec)} -> ${fmtInt(pip.callsPerSec)}/s; client CPU ${
          (pip.median.clientCpuUs / pip.calls).toFixed(0)
        } µs/call)`,
        ok: r >= 3,
      };
    },
  })),
  ...[1, 16, 64].map((n) => ({
    name: `server (issue 7): calls/s vs the Perl server, 1-row echo (Storable), ${n} client${
      n > 1 ? "s" : ""
    } x W in flight`,
    goal: ">= 10.00x",
    value: (rt: string) => {
      const r = serverRow(rt, n);
      if (!r?.ours || !r.perl || r.ratio === undefined) return undefined;
      return {
        text: `${fmtRatio(r.ratio)} (W=${r.inFlight}: ${fmtInt(r.ours.callsPerSec)} vs ${
          fmtInt(r.perl.callsPerSec)
        }/s)`,
        ok: r.ratio >= 10,
      };
    },
  })),
  {
    name: "server (issue 10): calls/s, 1 connection x 256 in flight, 1-row echo (Storable)",
    goal: ">= 50,000/s",
    value: (rt: string) => {
      const r = serverRow(rt, 1, 256);
      return r?.ours ? { text: `${fmtInt(r.ours.callsPerSec)}/s`, ok: r.ours.callsPerSec >= 50000 } : undefined;
    },
  },
  {
    name: "server (issue 10): the same, loaded by IkcClient, vs the Perl peer (load generator bound)",
    goal: "",
    value: (rt: string) => {
      const r = serverRow(rt, 1, 256);
      return r?.ratio !== undefined ? { text: fmtRatio(r.ratio), ok: true, plain: true } : undefined;
    },
  },
  {
    name: "server (issue 10): calls/s vs the genuine IKC::Server, 1 connection x 256 in flight, bare load generator",
    goal: ">= 10.00x",
    // Without the genuine server (BENCH_GENUINE unset) the bundled peer stands in, and says so.
    value: (rt: string) => {
      const v = saturatedVs(rt, "genuine", true);
      if (v || !server(rt)?.saturated) return v;
      const p = saturatedVs(rt, "perl", true);
      return p && { ...p, text: `${p.text}, vs the bundled peer: genuine IKC absent` };
    },
  },
  {
    name: "server (issue 10): the same vs the bundled Perl peer (POE + XS Storable, not IKC's code)",
    goal: "",
    value: (rt: string) => saturatedVs(rt, "perl", false),
  },
  ...[1, undefined].map((w) => ({
    name: `server (issue 7): p99 call latency, 16 clients x ${w ?? "W"} in flight`,
    goal: "< 2 ms",
    value: (rt: string) => {
      const r = serverRow(rt, 16, w);
      if (!r?.ours) return undefined;
      return { text: `${ms(r.ours.p99Ms)}${w ? "" : ` (W=${r.inFlight})`}`, ok: r.ours.p99Ms < 2 };
    },
  })),
];

const present = RUNTIMES.filter((rt) => ser(rt) || frame(rt) || e2e(rt) || server(rt) || client(rt));
console.log(
  mdTable(
    ["target", "goal", ...present],
    targets.map((t) => [
      t.name,
      t.goal,
      ...present.map((rt) => {
        const v = t.value(rt);
        return v ? (v.plain ? v.text : `${v.text} ${v.ok ? "met" : "MISSED"}`) : "n/a";
      }),
    ]),
  ),
);
