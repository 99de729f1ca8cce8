/**
 * Server benchmark: our IkcServer (bench/server-child.ts, the demo kernel `ikc serve` runs) beside
 * the bundled Perl peer (tests/perl/ikc-server.pl, POE + XS Storable), both answering `test/echo`
 * with a 1-row payload (`rowsPayload(1)`) frozen with Storable.
 *
 * Each server runs as its own child process (ours on the runtime under test: Deno and Bun run
 * bench/server-child.ts, Node the tsc build dist/bench/server-child.js), so on a 2-core machine
 * the server and the load generator each have a core. The load generator is this process: N
 * IkcClient connections, each with W calls kept in flight; the same clients, payload and number of
 * calls for both servers. Rounds are interleaved (ours, Perl, ours, Perl, ...) and every run is a
 * fixed number of calls; the headline is the median over rounds of the ratio ours/Perl calls/s.
 *
 * Issue 10's figure comes last: one connection with 256 calls in flight from a bare load generator
 * (bench/bare-ikc.ts, about a microsecond per call), so that the server, not the load generator,
 * is what runs out: ours, the genuine POE::Component::IKC::Server when IKC_GENUINE_LIB names its
 * lib folder (bench-all.sh sets it from BENCH_GENUINE), and the bundled Perl peer, in interleaved
 * rounds of a fixed time each.
 *
 * Per server and configuration: calls/s, the server's CPU time per call (utime + stime of its
 * process from /proc, 10 ms ticks), how busy the server, the load generator and the rest of the
 * machine were (CPU time over wall time, so a row limited by the load generator, or disturbed by
 * another job, shows as such), and the call latency
 * p50/p99 over every call of every round (time from `call()` to its answer, queueing included).
 *
 *   node_modules/.bin/deno run -A bench/server.ts | node_modules/.bin/bun bench/server.ts | node dist/bench/server.js
 *
 * Knobs: BENCH_INFLIGHT=<W> (calls in flight per connection in the loaded rows), BENCH_CALLS=<n>
 * (calls per run), BENCH_ROUNDS=<n>, BENCH_SERVERS=ours|perl|both (default both),
 * BENCH_SERVER_FLAGS="<runtime flags>" for our server's child (e.g. `--cpu-prof
 * --cpu-prof-dir=.tmp/prof` on Node: the profile is written when the child exits).
 *
 * @module
 */
import { IkcClient } from "../src/client.ts";
import type { PerlValue } from "../src/core/perl.ts";
import { BareIkc } from "./bare-ikc.ts";
import { rowsPayload } from "./payloads.ts";
import {
  type AnySide,
  machineCpuMicros,
  procCpuMicros,
  type ServerProc,
  type Side,
  startGenuine,
  startOurs,
  startPerl,
} from "./servers.ts";
import {
  cpuMicros,
  env,
  fmtInt,
  fmtRatio,
  fmtTime,
  mdTable,
  median,
  quick,
  record,
  runtime,
  runtimeLabel,
} from "./common.ts";

/** Calls in flight per connection in the loaded rows (see the note printed with the tables). */
const W = Number(env("BENCH_INFLIGHT") ?? 16);
const CALLS = Number(env("BENCH_CALLS") ?? (quick ? 3000 : 40000));
const SEQ_CALLS = Math.max(200, Math.round(CALLS / 5));
const ROUNDS = Number(env("BENCH_ROUNDS") ?? (quick ? 2 : 5));
const WARMUP = quick ? 1000 : 4000;
const CLIENT_COUNTS = [1, 16, 64];
const which = env("BENCH_SERVERS") ?? "both";
/** Issue 10's server figure: one connection with this many calls in flight, under a bare load generator. */
const SAT_INFLIGHT = 256;
/** Length of one saturated run (each server, each round). */
const SAT_MS = quick ? 400 : 1500;
/** The genuine POE::Component::IKC lib folder (bench-all.sh sets it from BENCH_GENUINE). */
const genuineLib = env("IKC_GENUINE_LIB") || undefined;

/** One bounded run: `calls` echo calls over `clients`, `inFlight` outstanding on each. */
interface Run {
  calls: number;
  wallMs: number;
  callsPerSec: number;
  serverCpuUs: number;
  clientCpuUs: number;
  /** CPU time of every other process on the machine meanwhile (the other server idles, so: someone else). */
  othersCpuUs: number;
  p50Ms: number;
  p99Ms: number;
}

const payload = rowsPayload(1) as unknown as PerlValue;
function check(v: PerlValue): void {
  const rows = (v as { rows?: Array<{ name?: string }> } | null)?.rows;
  if (rows?.length !== 1 || rows[0].name !== "user0") throw new Error(`echo returned ${JSON.stringify(v)}`);
}

/** Runs the calls; `lat[i]` gets call i's latency in ms. */
async function drive(clients: IkcClient[], inFlight: number, calls: number, lat: Float64Array): Promise<void> {
  let next = 0;
  const worker = async (c: IkcClient) => {
    while (next < calls) {
      const i = next++;
      const t0 = performance.now();
      const v = await c.call("test/echo", payload);
      lat[i] = performance.now() - t0;
      check(v);
    }
  };
  const workers: Promise<void>[] = [];
  for (const c of clients) for (let k = 0; k < inFlight; k++) workers.push(worker(c));
  await Promise.all(workers);
}

function quantile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

async function timedRun(
  server: ServerProc,
  clients: IkcClient[],
  inFlight: number,
  calls: number,
  pool: Float64Array[],
): Promise<Run> {
  const lat = new Float64Array(calls);
  const m0 = machineCpuMicros();
  const c0 = cpuMicros();
  const s0 = procCpuMicros(server.pid);
  const t0 = performance.now();
  await drive(clients, inFlight, calls, lat);
  const wallMs = performance.now() - t0;
  const serverCpuUs = procCpuMicros(server.pid) - s0;
  const clientCpuUs = cpuMicros() - c0;
  const othersCpuUs = Math.max(0, machineCpuMicros() - m0 - serverCpuUs - clientCpuUs);
  pool.push(lat);
  const sorted = lat.slice().sort();
  return {
    calls,
    wallMs,
    callsPerSec: (calls * 1000) / wallMs,
    serverCpuUs,
    clientCpuUs,
    othersCpuUs,
    p50Ms: quantile(sorted, 0.5),
    p99Ms: quantile(sorted, 0.99),
  };
}

/** What one server did in one configuration, over every round. */
interface SideResult {
  runs: Run[];
  /** Medians over the rounds. */
  callsPerSec: number;
  serverCpuUsPerCall: number;
  serverBusy: number;
  clientCpuUsPerCall: number;
  clientBusy: number;
  othersBusy: number;
  /** Over every call of every round. */
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
}

function summarise(runs: Run[], pool: Float64Array[]): SideResult {
  const total = pool.reduce((n, a) => n + a.length, 0);
  const all = new Float64Array(total);
  let at = 0;
  for (const a of pool) {
    all.set(a, at);
    at += a.length;
  }
  all.sort();
  return {
    runs,
    callsPerSec: median(runs.map((r) => r.callsPerSec)),
    serverCpuUsPerCall: median(runs.map((r) => r.serverCpuUs / r.calls)),
    serverBusy: median(runs.map((r) => r.serverCpuUs / (r.wallMs * 1000))),
    clientCpuUsPerCall: median(runs.map((r) => r.clientCpuUs / r.calls)),
    clientBusy: median(runs.map((r) => r.clientCpuUs / (r.wallMs * 1000))),
    othersBusy: median(runs.map((r) => r.othersCpuUs / (r.wallMs * 1000))),
    p50Ms: quantile(all, 0.5),
    p99Ms: quantile(all, 0.99),
    p999Ms: quantile(all, 0.999),
  };
}

interface Config {
  key: string;
  label: string;
  clients: number;
  inFlight: number;
  calls: number;
}

interface ConfigResult {
  clients: number;
  inFlight: number;
  calls: number;
  ours?: SideResult;
  perl?: SideResult;
  /** ours/Perl calls/s per round, and their median (the headline). */
  ratios?: number[];
  ratio?: number;
}

function configsFor(n: number): Config[] {
  const out: Config[] = [];
  if (n === 1) out.push({ key: "1x1", label: "1 client, sequential", clients: 1, inFlight: 1, calls: SEQ_CALLS });
  else out.push({ key: `${n}x1`, label: `${n} clients x 1 in flight`, clients: n, inFlight: 1, calls: CALLS });
  if (W !== 1) {
    out.push({
      key: `${n}x${W}`,
      label: `${n} client${n > 1 ? "s" : ""} x ${W} in flight`,
      clients: n,
      inFlight: W,
      calls: CALLS,
    });
  }
  // Issue 10's figure: one connection with 256 calls in flight.
  if (n === 1 && W !== 256) {
    out.push({ key: "1x256", label: "1 client x 256 in flight", clients: 1, inFlight: 256, calls: CALLS });
  }
  return out;
}

async function connectAll(server: ServerProc, n: number): Promise<IkcClient[]> {
  const out: IkcClient[] = [];
  for (let i = 0; i < n; i++) {
    // Distinct kernel names: each connection is its own remote kernel to the server.
    out.push(
      await IkcClient.connect({
        host: "127.0.0.1",
        port: server.port,
        name: `Bench${server.side}${n}c${i}`,
        timeout: 60,
      }),
    );
  }
  return out;
}

/** One server under the bare load generator, over every round. */
interface SaturatedSide {
  label: string;
  runs: Array<{ callsPerSec: number; serverCpuUsPerCall: number; genCpuUsPerCall: number }>;
  callsPerSec: number;
  serverCpuUsPerCall: number;
  genCpuUsPerCall: number;
}

interface SaturatedResult {
  inFlight: number;
  ms: number;
  rounds: number;
  sides: Partial<Record<AnySide, SaturatedSide>>;
  /** ours/theirs calls/s per round and the median, against each Perl server present. */
  ratios: Partial<Record<"genuine" | "perl", { perRound: number[]; median: number }>>;
}

/**
 * Issue 10's server figure: each server in turn (the order flips every round) answers one
 * connection that keeps SAT_INFLIGHT calls in flight for SAT_MS, from a BareIkc, which spends
 * about a microsecond per call; what is measured is the server, which an IkcClient as the load
 * generator (10-15 µs per call) cannot keep busy.
 */
async function saturate(servers: ServerProc<AnySide>[]): Promise<SaturatedResult> {
  const conns = new Map<ServerProc<AnySide>, BareIkc>();
  const sides: Partial<Record<AnySide, SaturatedSide>> = {};
  try {
    for (const s of servers) {
      conns.set(s, await BareIkc.connect(s.port, "test/echo", payload, `BenchSat${s.side}`));
      await conns.get(s)!.pipelined(SAT_INFLIGHT, SAT_MS / 3, check); // warm-up
      sides[s.side] = { label: s.label, runs: [], callsPerSec: NaN, serverCpuUsPerCall: NaN, genCpuUsPerCall: NaN };
    }
    for (let r = 0; r < ROUNDS; r++) {
      for (const s of r % 2 === 0 ? servers : [...servers].reverse()) {
        const c0 = procCpuMicros(s.pid);
        const run = await conns.get(s)!.pipelined(SAT_INFLIGHT, SAT_MS, check);
        sides[s.side]!.runs.push({
          callsPerSec: run.answers / run.secs,
          serverCpuUsPerCall: (procCpuMicros(s.pid) - c0) / run.answers,
          genCpuUsPerCall: run.cpuUs / run.answers,
        });
      }
    }
  } finally {
    for (const c of conns.values()) c.stop();
  }
  for (const side of Object.values(sides)) {
    side.callsPerSec = median(side.runs.map((r) => r.callsPerSec));
    side.serverCpuUsPerCall = median(side.runs.map((r) => r.serverCpuUsPerCall));
    side.genCpuUsPerCall = median(side.runs.map((r) => r.genCpuUsPerCall));
  }
  const ratios: SaturatedResult["ratios"] = {};
  for (const other of ["genuine", "perl"] as const) {
    if (!sides.ours || !sides[other]) continue;
    const perRound = sides.ours.runs.map((o, i) => o.callsPerSec / sides[other]!.runs[i].callsPerSec);
    ratios[other] = { perRound, median: median(perRound) };
  }
  return { inFlight: SAT_INFLIGHT, ms: SAT_MS, rounds: ROUNDS, sides, ratios };
}

function printSaturated(r: SaturatedResult): void {
  console.log(`### One connection, ${r.inFlight} calls in flight, bare load generator (issue 10)\n`);
  const rows: string[][] = [];
  for (const side of ["ours", "genuine", "perl"] as const) {
    const x = r.sides[side];
    if (!x) continue;
    const ratio = side === "ours" ? undefined : r.ratios[side];
    rows.push([
      side === "ours" ? `ours (${runtime})` : x.label,
      fmtInt(x.callsPerSec),
      us(x.serverCpuUsPerCall),
      us(x.genCpuUsPerCall),
      ratio ? fmtRatio(ratio.median) : "",
      ratio ? `${fmtRatio(Math.min(...ratio.perRound))} – ${fmtRatio(Math.max(...ratio.perRound))}` : "",
    ]);
  }
  console.log(
    mdTable(
      ["server", "calls/s", "server CPU/call", "load gen CPU/call", "ours / this server (median)", "ratio range"],
      rows,
    ),
  );
  console.log(
    `\nThe load generator is a bare IKC0 connection (bench/bare-ikc.ts): the same prebuilt \`test/echo\` call frame ` +
      `(\`rowsPayload(1)\`, Storable) written again as each answer arrives (the answers of one read in one write), ` +
      `answers counted by their length prefix and the last one of each run thawed and checked. It spends about a ` +
      `microsecond per call, so each server runs flat out on its own core. ${r.rounds} rounds of ${r.ms} ms per ` +
      "server, the order flipping every round; the ratio is the median of the per-round ratios of calls/s." +
      (r.sides.genuine
        ? ""
        : " The genuine POE::Component::IKC::Server was not measured (set BENCH_GENUINE for bench-all.sh).") +
      "\n",
  );
}

const us = (x: number) => (Number.isFinite(x) ? `${x.toFixed(1)} µs` : "n/a");
/** Which side limits a row: the one near a full core (the load generator's figure counts its GC threads too). */
function boundBy(r: SideResult): string {
  if (r.serverBusy >= 0.85) return "server";
  if (r.clientBusy >= 0.85) return "load generator";
  return "round trips";
}
const pct = (x: number) => (Number.isFinite(x) ? `${Math.round(x * 100)}%` : "n/a");

async function main(): Promise<void> {
  console.log(`## Server: ours vs the Perl peer — ${runtimeLabel()}\n`);
  const servers: ServerProc[] = [];
  const results: Record<string, ConfigResult> = {};
  const configs: Config[] = [];
  let saturated: SaturatedResult | undefined;
  try {
    if (which !== "perl") servers.push(await startOurs());
    if (which !== "ours") servers.push(await startPerl());
    for (const n of CLIENT_COUNTS) {
      const clients = new Map<Side, IkcClient[]>();
      for (const s of servers) clients.set(s.side, await connectAll(s, n));
      try {
        for (const cfg of configsFor(n)) {
          configs.push(cfg);
          const warm = new Float64Array(WARMUP);
          for (const s of servers) await drive(clients.get(s.side)!, cfg.inFlight, WARMUP, warm);
          const runs = new Map<Side, Run[]>(servers.map((s) => [s.side, []]));
          const pools = new Map<Side, Float64Array[]>(servers.map((s) => [s.side, []]));
          for (let r = 0; r < ROUNDS; r++) {
            for (const s of servers) {
              runs.get(s.side)!.push(
                await timedRun(s, clients.get(s.side)!, cfg.inFlight, cfg.calls, pools.get(s.side)!),
              );
            }
          }
          const res: ConfigResult = { clients: cfg.clients, inFlight: cfg.inFlight, calls: cfg.calls };
          for (const s of servers) res[s.side] = summarise(runs.get(s.side)!, pools.get(s.side)!);
          if (res.ours && res.perl) {
            res.ratios = res.ours.runs.map((o, i) => o.callsPerSec / res.perl!.runs[i].callsPerSec);
            res.ratio = median(res.ratios);
          }
          results[cfg.key] = res;
        }
      } finally {
        for (const list of clients.values()) await Promise.all(list.map((c) => c.disconnect()));
      }
    }
    const satServers: ServerProc<AnySide>[] = [...servers];
    if (genuineLib && which === "both") satServers.splice(1, 0, await startGenuine(genuineLib));
    try {
      saturated = await saturate(satServers);
    } finally {
      if (satServers.length > servers.length) await satServers[1].stop();
    }
  } catch (e) {
    console.log(`(server benchmark failed: ${(e as Error).message})`);
    for (const s of servers) console.log(`${s.label} stderr:\n${s.stderr().slice(-3000)}`);
    throw e;
  } finally {
    for (const s of servers) await s.stop();
  }
  for (const s of servers) {
    if (s.stderr().trim()) console.log(`(${s.label} wrote to stderr: ${s.stderr().trim().slice(-1000)})\n`);
  }

  console.log(
    `Load generator: this process (${runtime}), IkcClient over loopback TCP, N = 1, 16, 64 connections (one IkcClient ` +
      `each), each keeping W = ${W} calls of \`call("test/echo", rowsPayload(1))\` in flight (Storable), or 1 at a time in ` +
      `the "x 1" and sequential rows; the same for both servers. Each run is a fixed number ` +
      `of calls (${fmtInt(CALLS)}; ${
        fmtInt(SEQ_CALLS)
      } sequential), ${ROUNDS} rounds interleaved ours, Perl, ours, Perl, ... ` +
      `after ${fmtInt(WARMUP)} warm-up calls per server and configuration. Each server is its own child process.\n`,
  );
  if (servers.length === 2) {
    console.log("### Calls/s, ours vs Perl (median ratio of interleaved rounds)\n");
    console.log(
      mdTable(
        [
          "clients x in flight",
          "ours calls/s",
          "Perl calls/s",
          "ours/Perl (median)",
          "ratio range",
          "server CPU/call ours / Perl",
          "Perl/ours CPU per call",
          "ours p99",
          "Perl p99",
        ],
        configs.map((c) => {
          const r = results[c.key];
          return [
            c.label,
            fmtInt(r.ours!.callsPerSec),
            fmtInt(r.perl!.callsPerSec),
            fmtRatio(r.ratio!),
            `${fmtRatio(Math.min(...r.ratios!))} – ${fmtRatio(Math.max(...r.ratios!))}`,
            `${us(r.ours!.serverCpuUsPerCall)} / ${us(r.perl!.serverCpuUsPerCall)}`,
            fmtRatio(r.perl!.serverCpuUsPerCall / r.ours!.serverCpuUsPerCall),
            fmtTime(r.ours!.p99Ms),
            fmtTime(r.perl!.p99Ms),
          ];
        }),
      ),
    );
    console.log(
      "\nRatios are calls/s ours / Perl: above 1.00x ours is faster. Perl/ours CPU per call is how many more calls " +
        "our server answers per second of its own CPU time: what it could reach with a load generator fast enough to " +
        'keep it busy (see "bound by" below).\n',
    );
  }
  console.log("### Per server\n");
  const rows: string[][] = [];
  for (const c of configs) {
    for (const s of servers) {
      const r = results[c.key][s.side]!;
      rows.push([
        c.label,
        s.side === "ours" ? `ours (${runtime})` : "Perl",
        fmtInt(r.callsPerSec),
        us(r.serverCpuUsPerCall),
        pct(r.serverBusy),
        us(r.clientCpuUsPerCall),
        pct(r.clientBusy),
        pct(r.othersBusy),
        fmtTime(r.p50Ms),
        fmtTime(r.p99Ms),
        fmtTime(r.p999Ms),
        boundBy(r),
      ]);
    }
  }
  console.log(
    mdTable(
      [
        "clients x in flight",
        "server",
        "calls/s",
        "server CPU/call",
        "server busy",
        "load gen CPU/call",
        "load gen busy",
        "others busy",
        "p50",
        "p99",
        "p99.9",
        "bound by",
      ],
      rows,
    ),
  );
  console.log(
    `\ncalls/s, CPU per call and busy are medians over the rounds; p50/p99/p99.9 are over every call of every round ` +
      `(time from \`call()\` to its answer, so queueing behind the other calls in flight counts). Server CPU is the ` +
      `server process's utime + stime from /proc (every thread; 10 ms ticks); busy is CPU time over wall time (100% = ` +
      `one core; the load generator's includes its runtime's GC threads, so it can pass 100%). "others busy" is the CPU time the rest of the machine used meanwhile ` +
      `(/proc/stat less the two processes above): well above 0% means something else shared the two cores, and the ` +
      `busy figures and the tail latencies suffer first. "bound by": server when ` +
      `the server is at least 85% busy, else load generator when that is, else round trips (both wait on each other, ` +
      `as in the sequential row). W = ${W} calls in flight per connection is chosen so that the Perl server is ` +
      `saturated (busy near 100%, bound by: server, when nothing else runs) and ours is held up by the load generator, ` +
      `not by round trips; more in flight adds latency, hardly calls/s. With N x W calls outstanding the latency is mostly queueing (Little's law: N x W / calls/s); ` +
      `the N x 1 rows show latency with one call at a time per client.\n`,
  );
  if (saturated) printSaturated(saturated);
  record("server", { inFlight: W, calls: CALLS, seqCalls: SEQ_CALLS, rounds: ROUNDS, configs: results, saturated });
}

await main();
