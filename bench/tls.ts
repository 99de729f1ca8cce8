/**
 * TLS benchmark (issue 20): what TLS costs against plain TCP, in the same run. Two of our servers
 * (bench/server-child.ts, the demo kernel, each a child process on the runtime under test): one
 * plain, one over TLS with a certificate made by openssl at start (tests/helpers/tls-certs.ts). One
 * IkcClient connected to each (the TLS one verifying the server by the throwaway CA). In
 * interleaved rounds, the order flipping every round, both clients run each measurement:
 * - sequential `test/echo` calls of a 1-row payload (latency per call);
 * - 16 calls in flight, 1 row and 100 rows (calls/s);
 * - connect, negotiate and disconnect (the TLS handshake included).
 * Reported per measurement: the median over rounds of TLS's time per operation / plain's (above 1,
 * TLS is slower), its range, both medians, and the CPU time per operation of client and server.
 *
 *   node_modules/.bin/deno run -A bench/tls.ts | node_modules/.bin/bun bench/tls.ts | node dist/bench/tls.js
 *
 * Knobs: BENCH_ROUNDS=<n>, BENCH_CALLS=<calls per sequential batch>.
 *
 * @module
 */
import { IkcClient } from "../src/client.ts";
import type { PerlValue } from "../src/core/perl.ts";
import { makeTlsCerts, opensslMissing } from "../tests/helpers/tls-certs.ts";
import { rowsPayload } from "./payloads.ts";
import { cpuMicros, env, fmtInt, fmtRatio, fmtTime, mdTable, median, quick, record, runtimeLabel } from "./common.ts";
import { procCpuMicros, type ServerProc, startOurs } from "./servers.ts";

const ROUNDS = Number(env("BENCH_ROUNDS") ?? (quick ? 5 : 9));
const CALLS = Number(env("BENCH_CALLS") ?? (quick ? 300 : 1500));

type Kind = "plain" | "tls";

/** One side: its server process and what opens a client to it. */
interface Side {
  kind: Kind;
  server: ServerProc;
  client: IkcClient;
  open(): Promise<IkcClient>;
}

/** One measurement: `ops` operations of `run` on a side. */
interface Measurement {
  label: string;
  ops: number;
  run(side: Side): Promise<void>;
}

/** A sample: time and CPU per operation, in ms and µs. */
interface Sample {
  ms: number;
  clientUs: number;
  serverUs: number;
}

const one = rowsPayload(1) as unknown as PerlValue;
const hundred = rowsPayload(100) as unknown as PerlValue;

/** `calls` echo calls of `params`, `inFlight` at a time (1: each awaited before the next). */
async function calls(client: IkcClient, params: PerlValue, count: number, inFlight: number): Promise<void> {
  let started = 0;
  const worker = async () => {
    while (started < count) {
      started++;
      const v = await client.call("test/echo", params);
      if (v === null || typeof v !== "object") throw new Error(`echo returned ${String(v)}`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(inFlight, count) }, worker));
}

const measurements: Measurement[] = [
  { label: "sequential calls, 1 row", ops: CALLS, run: (s) => calls(s.client, one, CALLS, 1) },
  { label: "16 in flight, 1 row", ops: CALLS * 2, run: (s) => calls(s.client, one, CALLS * 2, 16) },
  { label: "16 in flight, 100 rows", ops: CALLS / 5, run: (s) => calls(s.client, hundred, CALLS / 5, 16) },
  {
    label: "connect + negotiate + disconnect",
    ops: quick ? 20 : 60,
    run: async (s) => {
      for (let i = 0; i < (quick ? 20 : 60); i++) await (await s.open()).disconnect();
    },
  },
];

async function sample(side: Side, m: Measurement): Promise<Sample> {
  const c0 = cpuMicros();
  const s0 = procCpuMicros(side.server.pid);
  const t0 = performance.now();
  await m.run(side);
  const ms = performance.now() - t0;
  return {
    ms: ms / m.ops,
    clientUs: (cpuMicros() - c0) / m.ops,
    serverUs: (procCpuMicros(side.server.pid) - s0) / m.ops,
  };
}

async function startSide(kind: Kind, tlsDir: string, ca: string): Promise<Side> {
  const server = await startOurs(kind === "tls" ? { BENCH_TLS_DIR: tlsDir } : {});
  const open = () =>
    IkcClient.connect({
      host: "127.0.0.1",
      port: server.port,
      timeout: 30,
      ...(kind === "tls" ? { tls: { ca } } : {}),
    });
  return { kind, server, client: await open(), open };
}

async function main(): Promise<void> {
  console.log(`## TLS against plain TCP, our server and client — ${runtimeLabel()}\n`);
  const missing = opensslMissing();
  if (missing) {
    console.log(`(skipped: ${missing})\n`);
    return;
  }
  const certs = makeTlsCerts();
  const sides: Side[] = [];
  try {
    sides.push(await startSide("plain", certs.dir, certs.ca), await startSide("tls", certs.dir, certs.ca));
    // Warm-up: JIT, socket buffers, the server's allocations, on both.
    for (const s of sides) for (const m of measurements) await m.run(s);
    const samples = measurements.map(() => ({ plain: [] as Sample[], tls: [] as Sample[], ratios: [] as number[] }));
    for (let r = 0; r < ROUNDS; r++) {
      for (const [i, m] of measurements.entries()) {
        const order = r % 2 === 0 ? sides : [...sides].reverse();
        const got: Partial<Record<Kind, Sample>> = {};
        for (const s of order) got[s.kind] = await sample(s, m);
        samples[i].plain.push(got.plain!);
        samples[i].tls.push(got.tls!);
        samples[i].ratios.push(got.tls!.ms / got.plain!.ms);
      }
    }
    report(samples);
  } finally {
    for (const s of sides) {
      await s.client.disconnect();
      await s.server.stop();
    }
    certs.remove();
  }
}

function report(samples: Array<{ plain: Sample[]; tls: Sample[]; ratios: number[] }>): void {
  const med = (xs: Sample[], k: keyof Sample) => median(xs.map((x) => x[k]));
  const us = (x: number) => (Number.isFinite(x) ? `${x.toFixed(0)} µs` : "n/a");
  const rows = measurements.map((m, i) => {
    const { plain, tls, ratios } = samples[i];
    const perSec = (xs: Sample[]) => `${fmtInt(1000 / med(xs, "ms"))}/s`;
    return [
      m.label,
      `${fmtTime(med(plain, "ms"))} (${perSec(plain)})`,
      `${fmtTime(med(tls, "ms"))} (${perSec(tls)})`,
      `${fmtRatio(median(ratios))} (${fmtRatio(Math.min(...ratios))}–${fmtRatio(Math.max(...ratios))})`,
      `${us(med(plain, "clientUs"))} / ${us(med(tls, "clientUs"))}`,
      `${us(med(plain, "serverUs"))} / ${us(med(tls, "serverUs"))}`,
    ];
  });
  console.log(
    mdTable(
      ["per operation", "plain TCP", "TLS", "TLS / plain (range)", "client CPU plain / TLS", "server CPU plain / TLS"],
      rows,
    ),
  );
  console.log(
    `\nMedians over ${ROUNDS} interleaved rounds (order flipped each round); a round's ratio is TLS's time per ` +
      "operation over plain's, both measured in that round. CPU from process.cpuUsage and /proc (server: 10 ms ticks).\n",
  );
  record(
    "tls",
    measurements.map((m, i) => ({
      label: m.label,
      ratio: median(samples[i].ratios),
      min: Math.min(...samples[i].ratios),
      max: Math.max(...samples[i].ratios),
      plainMs: med(samples[i].plain, "ms"),
      tlsMs: med(samples[i].tls, "ms"),
    })),
  );
}

await main();
