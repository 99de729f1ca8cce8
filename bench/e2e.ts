/**
 * End-to-end benchmark: IkcClient against the Perl test server (tests/perl/ikc-server.pl, POE +
 * XS Storable), calling `test/echo` (which returns ARG0).
 * - sequential: one call at a time, each awaited before the next;
 * - pipelined: 1, 16 and 256 calls kept in flight.
 * Every run is bounded (a fixed number of calls) and repeated; the median run is reported, with
 * the client's CPU time per call (process.cpuUsage) and the server's (from /proc, Linux only).
 *
 *   node_modules/.bin/deno run -A bench/e2e.ts | node_modules/.bin/bun bench/e2e.ts | node dist/bench/e2e.js
 *
 * @module
 */
import { IkcClient } from "../src/client.ts";
import type { PerlValue } from "../src/core/perl.ts";
import { type PerlServer, startPerlServer } from "../tests/helpers/server.ts";
import { rowsPayload } from "./payloads.ts";
import { cpuMicros, env, fmtInt, fmtRatio, mdTable, quick, record, runtimeLabel } from "./common.ts";
import { procCpuMicros } from "./servers.ts";

const CALLS = Number(env("BENCH_CALLS") ?? (quick ? 500 : 2000));
const REPEAT = quick ? 2 : 3;

interface Run {
  wallMs: number;
  clientCpuUs: number;
  serverCpuUs: number;
}

/**
 * `calls` echo calls. `inFlight` 0 is the sequential loop (`for (...) await call()`); otherwise a
 * window of `inFlight` workers keeps that many calls outstanding (1 = the window machinery with one
 * call at a time, which should match sequential: a check on the harness itself).
 */
async function runCalls(
  client: IkcClient,
  params: PerlValue,
  calls: number,
  inFlight: number,
  check: (v: PerlValue) => void,
): Promise<void> {
  if (inFlight === 0) {
    for (let i = 0; i < calls; i++) check(await client.call("test/echo", params));
    return;
  }
  let started = 0;
  const worker = async () => {
    while (started < calls) {
      started++;
      check(await client.call("test/echo", params));
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, calls) }, worker));
}

async function timed(server: PerlServer, fn: () => Promise<void>): Promise<Run> {
  const c0 = cpuMicros();
  const s0 = server.proc.pid === undefined ? NaN : procCpuMicros(server.proc.pid);
  const t0 = performance.now();
  await fn();
  const wallMs = performance.now() - t0;
  return {
    wallMs,
    clientCpuUs: cpuMicros() - c0,
    serverCpuUs: (server.proc.pid === undefined ? NaN : procCpuMicros(server.proc.pid)) - s0,
  };
}

function median(runs: Run[]): Run {
  const sorted = [...runs].sort((a, b) => a.wallMs - b.wallMs);
  return sorted[Math.floor(sorted.length / 2)];
}

async function main(): Promise<void> {
  console.log(`## End to end against the Perl test server — ${runtimeLabel()}\n`);
  const server = await startPerlServer();
  const client = await IkcClient.connect({ host: "127.0.0.1", port: server.port, timeout: 30 });
  const raw: Record<string, unknown> = {};
  try {
    const small: PerlValue = { id: 7, name: "user7", tags: ["a7", "b", "c"], active: 1, note: null };
    const rows100 = rowsPayload(100) as unknown as PerlValue;
    const payloads: Array<{ label: string; value: PerlValue; calls: number }> = [
      { label: "small hash (1 row)", value: small, calls: CALLS },
      { label: "100 rows", value: rows100, calls: Math.max(100, CALLS / 4) },
    ];
    const checkSmall = (v: PerlValue) => {
      if ((v as { id?: number }).id !== 7) throw new Error(`echo returned ${JSON.stringify(v)}`);
    };
    const checkRows = (v: PerlValue) => {
      if ((v as { rows?: unknown[] }).rows?.length !== 100) throw new Error("echo lost rows");
    };
    // Warm-up: JIT, socket buffers, Perl's allocations.
    await runCalls(client, small, quick ? 200 : 1000, 16, checkSmall);
    await runCalls(client, rows100, 100, 4, checkRows);

    const modes: Array<{ label: string; inFlight: number }> = [
      { label: "sequential", inFlight: 0 },
      { label: "pipelined, 1 in flight", inFlight: 1 },
      { label: "pipelined, 16 in flight", inFlight: 16 },
      { label: "pipelined, 256 in flight", inFlight: 256 },
    ];
    const rows: string[][] = [];
    for (const p of payloads) {
      const check = p.value === small ? checkSmall : checkRows;
      let seqRate = NaN;
      for (const m of modes) {
        const runs: Run[] = [];
        for (let i = 0; i < REPEAT; i++) {
          runs.push(await timed(server, () => runCalls(client, p.value, p.calls, m.inFlight, check)));
        }
        const r = median(runs);
        const rate = (p.calls * 1000) / r.wallMs;
        if (m.inFlight === 0) seqRate = rate;
        raw[`${p.label} / ${m.label}`] = { calls: p.calls, runs, median: r, callsPerSec: rate };
        rows.push([
          p.label,
          m.label,
          fmtInt(p.calls),
          `${r.wallMs.toFixed(0)} ms`,
          fmtInt(rate),
          `${((r.wallMs * 1000) / p.calls).toFixed(0)} µs`,
          m.inFlight === 0 ? "1.00x" : fmtRatio(rate / seqRate),
          `${(r.clientCpuUs / p.calls).toFixed(1)} µs`,
          Number.isFinite(r.serverCpuUs) ? `${(r.serverCpuUs / p.calls).toFixed(1)} µs` : "n/a",
        ]);
      }
    }
    console.log(`Median of ${REPEAT} runs; each run is a fixed number of \`call("test/echo", params)\`.\n`);
    console.log(
      mdTable(
        [
          "params",
          "mode",
          "calls",
          "wall",
          "calls/s",
          "wall/call",
          "vs sequential",
          "client CPU/call",
          "server CPU/call",
        ],
        rows,
      ),
    );
    console.log(
      "\nSequential awaits each call before starting the next; pipelined keeps N calls outstanding on the one " +
        "connection. Client CPU is this process's user+system time (process.cpuUsage) over the run divided by the " +
        "calls; server CPU is the Perl process's user+system time from /proc (10 ms ticks, so short runs are coarse).\n",
    );
  } catch (e) {
    console.log(`(e2e failed: ${(e as Error).message})\nPerl server stderr:\n${server.stderr().slice(-3000)}`);
    throw e;
  } finally {
    await client.disconnect();
    await server.stop();
  }
  record("e2e", raw);
}

await main();
