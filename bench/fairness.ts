/**
 * Fairness benchmark (issue 17): what one client flooding the server with the largest frames the
 * server's default limits let through costs every other client. Per server, in interleaved rounds
 * (the order flips every round): a well-behaved client makes sequential `test/echo` calls with a
 * 1-row payload for a fixed time, first with the server otherwise quiet, then while another
 * connection writes flood frames back to back (each a post of an array of small integers as
 * long as the defaults allow, written again as soon as the socket takes the last one). Reported:
 * the legit client's p50, p99 and worst latency, its calls made, the flood frames written, and for
 * our server the longest its event loop was held at once (bench/server-child.ts's stall watch).
 *
 * Servers: ours (bench/server-child.ts, the demo kernel on the runtime under test, default
 * limits) and the genuine POE::Component::IKC::Server 0.2402 when IKC_GENUINE_LIB names its lib
 * folder (bench-all.sh sets it from BENCH_GENUINE), under the same flood.
 *
 *   node_modules/.bin/deno run -A bench/fairness.ts | node_modules/.bin/bun bench/fairness.ts | node dist/bench/fairness.js
 *
 * Knobs: BENCH_FLOOD_ELEMENTS=<n> (integers per flood frame; default: the most the server's
 * default limits accept), BENCH_ROUNDS=<n>, BENCH_FAIR_MS=<ms per measurement>.
 *
 * @module
 */
import type { PerlValue } from "../src/core/perl.ts";
import { SERVER_DECODE_LIMITS } from "../src/core/limits.ts";
import { BareIkc } from "./bare-ikc.ts";
import { rowsPayload } from "./payloads.ts";
import { env, fmtInt, fmtTime, mdTable, median, quick, record, runtime, runtimeLabel } from "./common.ts";
import { type AnySide, type ServerProc, startGenuine, startOurs } from "./servers.ts";

const ROUNDS = Number(env("BENCH_ROUNDS") ?? (quick ? 2 : 4));
const MS = Number(env("BENCH_FAIR_MS") ?? (quick ? 1000 : 3000));
const genuineLib = env("IKC_GENUINE_LIB") || undefined;

/**
 * The most small integers one frame may carry under the server's default limits: each costs one
 * element of the decoder's budget and two bytes of Storable (SX_BYTE), and the message around
 * them a few dozen elements and bytes.
 */
function serverFloodLimit(): { elements: number; why: string } {
  const { maxElements, maxInputSize } = SERVER_DECODE_LIMITS;
  const byElements = maxElements - 64;
  const byBytes = Math.floor((maxInputSize - 512) / 2);
  return byElements <= byBytes
    ? {
      elements: byElements,
      why: `the server's default maxElements ${fmtInt(maxElements)} less the message around it`,
    }
    : {
      elements: byBytes,
      why: `the server's default maxInputSize ${fmtInt(maxInputSize)} bytes at 2 bytes an integer`,
    };
}

const payload = rowsPayload(1) as unknown as PerlValue;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** One measurement: the legit client's latencies, with or without the flood. */
interface Sample {
  lat: number[];
  floodFrames: number;
  floodDropped: boolean;
  /** Our server's longest event-loop hold during the sample (NaN for the genuine server). */
  stallMs: number;
}

interface SideResult {
  label: string;
  quiet: Sample[];
  flooded: Sample[];
}

function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))];
}

/** The longest stall our server reported in the stdout it printed since `mark`. */
function stallSince(s: ServerProc<AnySide>, mark: number): number {
  if (s.side !== "ours") return NaN;
  let worst = 0;
  for (const m of s.stdout().slice(mark).matchAll(/STALL max=([\d.]+)/g)) worst = Math.max(worst, Number(m[1]));
  return worst;
}

async function sample(s: ServerProc<AnySide>, legit: BareIkc, flood: BareIkc | undefined): Promise<Sample> {
  const f = flood?.flood();
  if (f) await sleep(200); // the flood under way before the first measured call
  const mark = s.stdout().length;
  const lat = await legit.callLatencies(MS);
  await sleep(300); // the last stall line printed
  const stallMs = stallSince(s, mark);
  f?.stop();
  // Let the server work off what the flood left queued before the next sample.
  if (f) await legit.callLatencies(50).then(() => sleep(500));
  return { lat, floodFrames: f?.frames ?? 0, floodDropped: f?.dropped ?? false, stallMs };
}

async function main(): Promise<void> {
  const limit = serverFloodLimit();
  const n = Number(env("BENCH_FLOOD_ELEMENTS") ?? limit.elements);
  console.log(`## Fairness: one client floods, another calls — ${runtimeLabel()}\n`);
  const flood = Array.from({ length: n }, (_, i) => i & 63) as PerlValue;
  const servers: ServerProc<AnySide>[] = [await startOurs({ BENCH_LOOP_STALL: "1" })];
  if (genuineLib) servers.push(await startGenuine(genuineLib));
  const results = new Map<ServerProc<AnySide>, SideResult>();
  const conns = new Map<ServerProc<AnySide>, { legit: BareIkc; flood: BareIkc }>();
  try {
    for (const s of servers) {
      const legit = await BareIkc.connect(s.port, "test/echo", payload, `FairLegit${s.side}`);
      const fl = await BareIkc.connect(s.port, "test/echo", flood, `FairFlood${s.side}`);
      conns.set(s, { legit, flood: fl });
      await legit.callLatencies(300); // warm-up
      results.set(s, { label: s.side === "ours" ? `ours (IkcServer on ${runtime})` : s.label, quiet: [], flooded: [] });
    }
    for (let r = 0; r < ROUNDS; r++) {
      for (const s of r % 2 === 0 ? servers : [...servers].reverse()) {
        const c = conns.get(s)!;
        const res = results.get(s)!;
        res.quiet.push(await sample(s, c.legit, undefined));
        res.flooded.push(await sample(s, c.legit, c.flood));
      }
    }
  } finally {
    for (const c of conns.values()) {
      c.legit.stop();
      c.flood.stop();
    }
    for (const s of servers) await s.stop();
  }
  const rows: string[][] = [];
  const out: Record<string, unknown> = {};
  for (const [, res] of results) {
    for (const [what, samples] of [["quiet", res.quiet], ["flooded", res.flooded]] as const) {
      const all = samples.flatMap((x) => x.lat);
      const stall = median(samples.map((x) => x.stallMs));
      const dropped = samples.some((x) => x.floodDropped);
      const row = {
        calls: all.length,
        p50Ms: quantile(all, 0.5),
        p99Ms: quantile(all, 0.99),
        maxMs: all.reduce((a, b) => Math.max(a, b), -Infinity), // no spread: 100,000s of calls
        floodFrames: samples.reduce((a, x) => a + x.floodFrames, 0),
        worstStallMs: Math.max(...samples.map((x) => x.stallMs)),
        dropped,
      };
      out[`${res.label} ${what}`] = row;
      rows.push([
        res.label,
        what === "quiet" ? "no flood" : `flood${dropped ? " (flooder dropped!)" : ""}`,
        fmtInt(row.calls),
        fmtTime(row.p50Ms),
        fmtTime(row.p99Ms),
        fmtTime(row.maxMs),
        what === "quiet" ? "" : fmtInt(row.floodFrames),
        Number.isFinite(row.worstStallMs) ? `${fmtTime(stall)} / ${fmtTime(row.worstStallMs)}` : "n/a",
      ]);
    }
  }
  console.log(
    mdTable(
      ["server", "load", "legit calls", "p50", "p99", "max", "flood frames", "loop held (median / worst)"],
      rows,
    ),
  );
  console.log(
    `\nThe flood frame is a post of an array of ${fmtInt(n)} small integers (${limit.why}); the legit client makes ` +
      `sequential \`test/echo\` calls with a 1-row payload for ${MS} ms per sample, ${ROUNDS} rounds, the servers' ` +
      `order flipping every round. Latencies are over every call of every round. "loop held" is the longest our ` +
      `server's event loop was held by one task in a sample (a 5 ms interval timer's lateness), median over the ` +
      `samples and worst.` +
      (genuineLib
        ? ""
        : " The genuine POE::Component::IKC::Server was not measured (set BENCH_GENUINE for bench-all.sh).") +
      "\n",
  );
  record("fairness", { rounds: ROUNDS, ms: MS, floodElements: n, results: out });
}

await main();
