/**
 * Tracing cost: calls from our IkcClient to our IkcServer in one process, with and without a
 * subscriber on the `ikc:request` and `ikc:state` tracing channels (no-op handlers on all five
 * events of both: the least any tracer costs), sequential (each call awaited) and pipelined (64
 * in flight). Interleaved rounds, the order flipping every round; the headline is the median of
 * the per-round ratios traced / untraced. Beside them, what a request pays while nobody
 * subscribes: the `hasSubscribers` check, timed alone, against one call.
 *
 *   bash scripts/bench-all.sh trace
 *   node dist/bench/trace.js | deno run -A bench/trace.ts | bun bench/trace.ts
 *
 * @module
 */
import dc from "node:diagnostics_channel";
import { IkcClient } from "../src/client.ts";
import { IkcServer } from "../src/server.ts";
import { requestTracing } from "../src/kernel/trace.ts";
import { env, fmtRatio, fmtTime, interleaved, mdTable, median, quick, record, runtimeLabel } from "./common.ts";

const CALLS = Number(env("BENCH_CALLS") ?? (quick ? 300 : 2000));
const ROUNDS = Number(env("BENCH_ROUNDS") ?? (quick ? 5 : 11));
const WINDOW = 64;

const EVENTS = ["start", "end", "asyncStart", "asyncEnd", "error"] as const;
const noop = () => {};
const handlers = Object.fromEntries(EVENTS.map((e) => [e, noop]));

function traced(on: boolean): void {
  for (const name of ["ikc:request", "ikc:state"]) {
    const tc = dc.tracingChannel(name);
    if (on) tc.subscribe(handlers as never);
    else tc.unsubscribe(handlers as never);
  }
}

async function sequential(c: IkcClient, n: number): Promise<number> {
  const t0 = performance.now();
  for (let i = 0; i < n; i++) await c.call("b/echo", i);
  return (performance.now() - t0) / n;
}

async function pipelined(c: IkcClient, n: number): Promise<number> {
  const t0 = performance.now();
  let sent = 0;
  const lane = async () => {
    while (sent < n) {
      sent++;
      await c.call("b/echo", sent);
    }
  };
  await Promise.all(Array.from({ length: WINDOW }, lane));
  return (performance.now() - t0) / n;
}

/** Median per-round ratio traced / untraced of `run`, in interleaved rounds. */
async function rounds(run: (n: number) => Promise<number>): Promise<{ ratio: number; off: number; on: number }> {
  await run(CALLS); // warm-up
  const ratios: number[] = [];
  const offs: number[] = [];
  const ons: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    let off: number, on: number;
    if (r % 2 === 0) {
      off = await run(CALLS);
      traced(true);
      on = await run(CALLS);
      traced(false);
    } else {
      traced(true);
      on = await run(CALLS);
      traced(false);
      off = await run(CALLS);
    }
    offs.push(off);
    ons.push(on);
    ratios.push(on / off);
  }
  return { ratio: median(ratios), off: median(offs), on: median(ons) };
}

const server = await IkcServer.listen({ port: 0, name: "BenchHub" });
server.publish("b", { echo: (p) => p });
const client = await IkcClient.connect({ port: server.port, name: "BenchClient" });
const seq = await rounds((n) => sequential(client, n));
const pipe = await rounds((n) => pipelined(client, n));
await client.disconnect();
await server.close();

// What an untraced request pays for tracing: one `active` check (five hasSubscribers reads).
const check = interleaved(() => requestTracing.active, () => 0);
const checkMs = Math.max(0, check.aMs - check.bMs);

console.log(`# Tracing cost (${runtimeLabel()})`);
console.log();
console.log(
  `Our client calling our server in one process, ${CALLS} calls per batch, ${ROUNDS} interleaved rounds; ` +
    `traced: a no-op subscriber on every event of ikc:request and ikc:state.`,
);
console.log();
console.log(mdTable(["calls", "untraced", "traced", "traced / untraced (median of rounds)"], [
  ["sequential", fmtTime(seq.off), fmtTime(seq.on), fmtRatio(seq.ratio)],
  [`pipelined (${WINDOW} in flight)`, fmtTime(pipe.off), fmtTime(pipe.on), fmtRatio(pipe.ratio)],
]));
console.log();
console.log(
  `Nobody subscribed: a request checks \`hasSubscribers\` once (${fmtTime(checkMs)} over an empty function), ${
    (100 * checkMs / pipe.off).toFixed(3)
  }% of a pipelined call; ` +
    `no context is built and nothing is published.`,
);
record("trace", { seq, pipe, checkMs });
